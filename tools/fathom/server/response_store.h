// The Responses API's stored responses (`store`, true by default as in OpenAI's API): what
// `previous_response_id` continues and GET / DELETE /v1/responses/{id} read. Each entry keeps the
// Response object and the conversation it ended: every input item that led to it (its own and
// those of the responses it continued) and its output items.
//
// In memory, for the life of the server, at most kCapacity responses: the oldest is dropped first
// (a continuation of a dropped one is answered 400, naming previous_response_id). Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace fathom::server {

class ResponseStore {
 public:
  static constexpr size_t kCapacity = 1000;

  struct Entry {
    nlohmann::ordered_json response;
    nlohmann::ordered_json conversation;  // items: the inputs, then the response's output
    size_t inputs = 0;                    // how many of them are inputs
  };

  explicit ResponseStore(size_t capacity = kCapacity) : capacity_(capacity) {}

  void put(const std::string& id, Entry entry);
  std::optional<Entry> get(const std::string& id) const;
  bool erase(const std::string& id);
  size_t size() const;

 private:
  size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // the ids of entries_, oldest first
};

}  // namespace fathom::server
