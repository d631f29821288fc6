// A compiled PCRE2 pattern for the pre-tokenizer: UTF-8 subjects, Unicode
// properties for \p{..}, \s, \w (PCRE2_UCP), JIT-compiled where the platform
// allows, with \s meaning what it means in Oniguruma (Hugging Face's engine).
//
// A pattern is immutable and shared by all threads; what a match writes
// (match data, JIT stack) lives in a MatchScratch that each thread owns.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

// PCRE2's types, without its header (which needs PCRE2_CODE_UNIT_WIDTH).
struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;
struct pcre2_real_jit_stack_8;

namespace fathom::tokenizer {

// Per-thread state for matching any UnicodeRegex.
class MatchScratch {
 public:
  MatchScratch();
  ~MatchScratch();
  MatchScratch(MatchScratch&&) noexcept;
  MatchScratch& operator=(MatchScratch&&) noexcept;

 private:
  friend class UnicodeRegex;
  struct Handles;
  std::unique_ptr<Handles> handles_;
};

class UnicodeRegex {
 public:
  enum class Syntax { regex, literal };

  // Compiles `pattern`. Errors are fathom::Error(invalid_argument) prefixed with
  // `where` (e.g. "tokenizer.json: pre_tokenizer.pretokenizers[2].pattern.Regex").
  UnicodeRegex(std::string_view pattern, Syntax syntax, const std::string& where);
  ~UnicodeRegex();
  UnicodeRegex(UnicodeRegex&&) noexcept;
  UnicodeRegex& operator=(UnicodeRegex&&) noexcept;

  struct Match {
    std::size_t begin;
    std::size_t end;
  };

  // Finds the first match in subject[offset..]. The subject is the whole piece
  // being split: lookarounds see its ends, never the text around it. The
  // subject must be valid UTF-8 (checked once per encode, not per match) and
  // `offset` a character boundary.
  bool find(std::string_view subject, std::size_t offset, MatchScratch& scratch, Match& match) const;

  const std::string& pattern() const { return pattern_; }
  bool jit_compiled() const { return jit_; }

  // tokenizer.json patterns are written for Oniguruma, whose \s is Unicode
  // White_Space. PCRE2's \s (with UCP) also takes U+180E MONGOLIAN VOWEL
  // SEPARATOR, a space until Unicode 6.3, so \s and \S are rewritten to the
  // White_Space property, in and out of character classes. Every other
  // construct the DeepSeek patterns use means the same in both engines.
  static std::string with_oniguruma_spaces(std::string_view pattern);

 private:
  std::string pattern_;
  pcre2_real_code_8* code_ = nullptr;
  bool jit_ = false;
};

}  // namespace fathom::tokenizer
