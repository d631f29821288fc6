#include "fathom/tokenizer/pre_tokenizer.h"

#include "fathom/tokenizer/utf8.h"

namespace fathom::tokenizer {

void PreTokenizer::split(std::string_view text, MatchScratch& scratch, std::vector<std::string_view>& pieces) const {
  if (!text.empty()) split_from(0, text, scratch, pieces);
}

// Depth first: every piece goes through all remaining rules before the next
// piece is looked at, so no intermediate list of pieces is built.
void PreTokenizer::split_from(std::size_t rule_index, std::string_view piece, MatchScratch& scratch,
                              std::vector<std::string_view>& pieces) const {
  if (rule_index == rules_.size()) {
    pieces.push_back(piece);
    return;
  }
  const SplitRule& rule = rules_[rule_index];
  // With invert, the gaps play the part of the matches.
  const bool keep_matches = rule.behavior == SplitBehavior::isolated || rule.invert;
  const bool keep_gaps = rule.behavior == SplitBehavior::isolated || !rule.invert;
  auto emit = [&](std::size_t begin, std::size_t end, bool keep) {
    if (keep && end > begin) split_from(rule_index + 1, piece.substr(begin, end - begin), scratch, pieces);
  };

  std::size_t gap_begin = 0;
  std::size_t search_from = 0;
  UnicodeRegex::Match m;
  while (search_from <= piece.size() && rule.pattern.find(piece, search_from, scratch, m)) {
    emit(gap_begin, m.begin, keep_gaps);
    emit(m.begin, m.end, keep_matches);
    gap_begin = m.end;
    if (m.end > m.begin) {
      search_from = m.end;
    } else {
      // An empty match still cuts the piece there (as Hugging Face's find_iter
      // does); search again one character further on.
      if (m.end >= piece.size()) break;
      search_from = m.end + utf8::scan(piece.substr(m.end)).length;
    }
  }
  emit(gap_begin, piece.size(), keep_gaps);
}

}  // namespace fathom::tokenizer
