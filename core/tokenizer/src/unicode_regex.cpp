#include "fathom/tokenizer/unicode_regex.h"

#include <pcre2.h>

#include <utility>

#include "fathom/core/error.h"

namespace fathom::tokenizer {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof buffer);
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<const char*>(buffer), n);
}

// The JIT matcher runs on its own stack. 32 KiB (PCRE2's default, on the machine
// stack) is too small for patterns like \s+(?!\S) over very long whitespace runs;
// the stack grows on demand up to the maximum, which is only reserved address space.
constexpr std::size_t kJitStackStart = 32 * 1024;
constexpr std::size_t kJitStackMax = 64 * 1024 * 1024;

}  // namespace

std::string UnicodeRegex::with_oniguruma_spaces(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    const char next = pattern[++i];
    if (next == 's') {
      out += "\\p{White_Space}";
    } else if (next == 'S') {
      out += "\\P{White_Space}";
    } else if (next == 'Q') {
      // \Q...\E quotes literally: copy it untouched.
      const std::size_t end = pattern.find("\\E", i + 1);
      const std::size_t stop = end == std::string_view::npos ? pattern.size() : end + 2;
      out += '\\';
      out.append(pattern.substr(i, stop - i));
      i = stop - 1;
    } else {
      out += '\\';
      out += next;  // any other escape (\\, \p{..}, \x{..}, \r, ...) is the same in both engines
    }
  }
  return out;
}

struct MatchScratch::Handles {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  ~Handles() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
};

MatchScratch::MatchScratch() : handles_(std::make_unique<Handles>()) {
  // One ovector pair is enough: only the whole match is used, and PCRE2 still
  // reports the whole match when a pattern has more groups than pairs.
  handles_->data = pcre2_match_data_create(1, nullptr);
  handles_->context = pcre2_match_context_create(nullptr);
  handles_->jit_stack = pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr);
  if (!handles_->data || !handles_->context || !handles_->jit_stack) {
    throw resource_exhausted("tokenizer: cannot allocate PCRE2 match data");
  }
  pcre2_jit_stack_assign(handles_->context, nullptr, handles_->jit_stack);
}

MatchScratch::~MatchScratch() = default;
MatchScratch::MatchScratch(MatchScratch&&) noexcept = default;
MatchScratch& MatchScratch::operator=(MatchScratch&&) noexcept = default;

UnicodeRegex::UnicodeRegex(std::string_view pattern, Syntax syntax, const std::string& where) : pattern_(pattern) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  const std::string compiled = syntax == Syntax::literal ? std::string(pattern) : with_oniguruma_spaces(pattern);
  if (syntax == Syntax::literal) options |= PCRE2_LITERAL;
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &error_code,
                        &error_offset, nullptr);
  if (!code_) {
    const std::string offset_note = compiled == pattern ? "" : " of the pattern with \\s as \\p{White_Space}";
    throw invalid_argument(where + ": cannot compile pattern: " + pcre2_message(error_code) + " (at offset " +
                           std::to_string(error_offset) + offset_note + ")");
  }
  // Without JIT (unsupported CPU, or SELinux refusing executable memory)
  // matching still works through the interpreter, only slower.
  jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
}

UnicodeRegex::~UnicodeRegex() { pcre2_code_free(code_); }

UnicodeRegex::UnicodeRegex(UnicodeRegex&& other) noexcept
    : pattern_(std::move(other.pattern_)), code_(std::exchange(other.code_, nullptr)), jit_(other.jit_) {}

UnicodeRegex& UnicodeRegex::operator=(UnicodeRegex&& other) noexcept {
  if (this != &other) {
    pcre2_code_free(code_);
    pattern_ = std::move(other.pattern_);
    code_ = std::exchange(other.code_, nullptr);
    jit_ = other.jit_;
  }
  return *this;
}

bool UnicodeRegex::find(std::string_view subject, std::size_t offset, MatchScratch& scratch, Match& match) const {
  auto& h = *scratch.handles_;
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const int rc = jit_ ? pcre2_jit_match(code_, data, subject.size(), offset, 0, h.data, h.context)
                      : pcre2_match(code_, data, subject.size(), offset, PCRE2_NO_UTF_CHECK, h.data, h.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    throw resource_exhausted("tokenizer: pre-tokenizer pattern '" + pattern_ + "' failed on a piece of " +
                             std::to_string(subject.size()) + " bytes: " + pcre2_message(rc));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(h.data);
  match.begin = ovector[0];
  match.end = ovector[1];
  return true;
}

}  // namespace fathom::tokenizer
