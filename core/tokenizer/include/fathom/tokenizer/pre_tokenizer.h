// The pre-tokenizer: cuts text into the pieces ("words") that BPE encodes one
// at a time, by a sequence of regex splits as tokenizer.json's `Split`
// pre-tokenizers define them.
//
// Each split applies to every piece the previous one produced, and its
// pattern sees only that piece: a lookahead at the end of a piece sees the end
// of the subject, not the text that followed in the input. This is how
// Hugging Face applies a `Sequence` of pre-tokenizers, and the DeepSeek
// patterns (`\s+(?!\S)`) depend on it.
#pragma once

#include <string_view>
#include <vector>

#include "fathom/tokenizer/unicode_regex.h"

namespace fathom::tokenizer {

// What happens to a match (tokenizer.json `Split.behavior`).
enum class SplitBehavior {
  isolated,  // a match and each gap between matches become pieces of their own
  removed,   // gaps become pieces, matches are dropped
};

struct SplitRule {
  UnicodeRegex pattern;
  SplitBehavior behavior = SplitBehavior::isolated;
  bool invert = false;  // swap the roles of matches and gaps
};

class PreTokenizer {
 public:
  void add_split(SplitRule rule) { rules_.push_back(std::move(rule)); }
  bool empty() const { return rules_.empty(); }

  // Appends the non-empty pieces of `text`, in order, as views into `text`.
  void split(std::string_view text, MatchScratch& scratch, std::vector<std::string_view>& pieces) const;

 private:
  void split_from(std::size_t rule_index, std::string_view piece, MatchScratch& scratch,
                  std::vector<std::string_view>& pieces) const;

  std::vector<SplitRule> rules_;
};

}  // namespace fathom::tokenizer
