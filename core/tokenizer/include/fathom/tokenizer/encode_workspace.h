// The mutable state of one encode() call, and the pool that lends it out.
//
// A Tokenizer is shared by threads, but encoding needs scratch memory (regex
// match data, merge buffers) and benefits from a word cache. Rather than lock
// per word, each call borrows a whole workspace for its duration: the pool
// try-locks its slots in turn, and when all are busy lends a fresh, private
// workspace (correct, only without a warm cache). One thread therefore never
// waits for another, and the common single-threaded case pays one uncontended
// lock per call.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/added_tokens.h"
#include "fathom/tokenizer/bpe_model.h"
#include "fathom/tokenizer/unicode_regex.h"
#include "fathom/tokenizer/word_cache.h"

namespace fathom::tokenizer {

struct EncodeWorkspace {
  MatchScratch match;
  BpeScratch bpe;
  WordCache cache;
  std::vector<TextSegment> segments;
  std::vector<std::string_view> pieces;

  // Frees buffers that one huge input grew far beyond what normal text needs,
  // so that a pooled workspace does not hold on to them for the process lifetime.
  void release_oversized_buffers();
};

class WorkspacePool {
 public:
  static constexpr std::size_t kSlots = 8;

  class Lease {
   public:
    EncodeWorkspace& operator*() const { return *workspace_; }
    EncodeWorkspace* operator->() const { return workspace_; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

   private:
    friend class WorkspacePool;
    Lease(std::unique_lock<std::mutex> lock, EncodeWorkspace* workspace) : lock_(std::move(lock)), workspace_(workspace) {}
    explicit Lease(std::unique_ptr<EncodeWorkspace> own) : own_(std::move(own)), workspace_(own_.get()) {}

    std::unique_lock<std::mutex> lock_;         // a pooled workspace: released with the lease
    std::unique_ptr<EncodeWorkspace> own_;  // or a private one, dropped with it
    EncodeWorkspace* workspace_;
  };

  Lease acquire();

  // Empties every pooled word cache (waits for workspaces in use).
  void clear_word_caches();

 private:
  struct Slot {
    std::mutex mutex;
    std::unique_ptr<EncodeWorkspace> workspace;  // created on first use
  };
  std::array<Slot, kSlots> slots_;
};

}  // namespace fathom::tokenizer
