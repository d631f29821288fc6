// What every fuzz target shares: the libFuzzer entry point and the rule it checks.
//
// The rule: whatever the bytes, the code under test returns or throws fathom::Error (the error
// a user sees, naming the file and field). Any other exception (a std::out_of_range from
// nlohmann::json, a std::bad_alloc from a length taken from the input) means a path where bad
// input escapes the checks, so it aborts, as a crash or a sanitizer report does. Properties a
// target checks beyond that (a round trip, say) abort the same way when they fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>

#include "fathom/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fathom::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz property failed: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// FATHOM_FUZZ_VERBOSE=1 prints the errors inputs were refused with: whether a seed gets past
// the first check is worth knowing when writing seeds.
inline bool verbose() {
  static const bool on = std::getenv("FATHOM_FUZZ_VERBOSE") != nullptr;
  return on;
}

// Runs `body`; fathom::Error is an accepted outcome, every other exception is a finding.
template <typename Body>
void expect_only_fathom_errors(Body&& body) {
  try {
    body();
  } catch (const fathom::Error& e) {
    if (verbose()) std::fprintf(stderr, "  refused: %s\n", e.what());
  } catch (const std::exception& e) {
    fail("an exception other than fathom::Error escaped", e.what());
  }
}

// A file in the temp folder for readers that take a path, not a buffer: one per process
// (fuzzing runs several side by side), rewritten for every input, removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix)
      : path_(std::filesystem::temp_directory_path() / ("fathom-fuzz-" + std::to_string(::getpid()) + suffix)) {}
  ~ScratchFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace fathom::fuzz
