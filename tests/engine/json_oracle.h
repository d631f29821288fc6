// An independent judge of JSON for the JSON-mode tests: nlohmann::json's parser.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace fathom::engine {

// nlohmann::json's verdict on a text: whether it is JSON, or a prefix of JSON (the parser stops
// only when it reaches the end of the input, at position size + 1).
struct NlohmannVerdict {
  bool whole = false, prefix = false;
};
inline NlohmannVerdict nlohmann_verdict(const std::string& text) {
  struct Sax : nlohmann::json_sax<nlohmann::json> {
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override {
      error_at = position;
      return false;
    }
    std::size_t error_at = 0;
  } sax;
  const bool ok = nlohmann::json::sax_parse(text, &sax);
  return {ok, ok || sax.error_at == text.size() + 1};
}

}  // namespace fathom::engine
