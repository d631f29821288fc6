// The tokenizer's parts on their own: byte-level alphabet, merge table, BPE
// merge order, pre-tokenizer split semantics, added-token matching, word cache.
#include <gtest/gtest.h>

#include <random>

#include "fathom/core/error.h"
#include "fathom/tokenizer/added_tokens.h"
#include "fathom/tokenizer/bpe_model.h"
#include "fathom/tokenizer/byte_level.h"
#include "fathom/tokenizer/merge_table.h"
#include "fathom/tokenizer/pre_tokenizer.h"
#include "fathom/tokenizer/word_cache.h"

namespace fathom::tokenizer {
namespace {

TEST(ByteLevel, AlphabetIsGpt2s) {
  EXPECT_EQ(byte_level::spell(" "), "Ġ");
  EXPECT_EQ(byte_level::spell("\n"), "Ċ");
  EXPECT_EQ(byte_level::spell("a!~"), "a!~");
  EXPECT_EQ(byte_level::spell("\xC2\xA0"), "Âł");  // NBSP: C2 stays, A0 is remapped
  for (unsigned b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    EXPECT_EQ(byte_level::unspell(byte_level::spell(byte)), byte) << b;
  }
  EXPECT_EQ(byte_level::unspell("<｜User｜>"), std::nullopt);
}

TEST(MergeTable, FindsReplacesAndGrows) {
  MergeTable table(2);
  for (TokenId i = 0; i < 1000; ++i) table.insert(i, i + 1, {i, 5000 + i});
  EXPECT_EQ(table.size(), 1000u);
  for (TokenId i = 0; i < 1000; ++i) {
    const MergeRule* rule = table.find(i, i + 1);
    ASSERT_NE(rule, nullptr);
    EXPECT_EQ(rule->merged, 5000 + i);
  }
  EXPECT_EQ(table.find(1, 0), nullptr);
  table.insert(3, 4, {77, 9});
  EXPECT_EQ(table.find(3, 4)->rank, 77u);
  EXPECT_EQ(table.size(), 1000u);
}

// A model over the bytes 'a', 'b', 'c' (ids = byte values) with a few merges,
// and a naive reference: merge the lowest-ranked, leftmost pair until none is left.
struct TinyBpe {
  std::vector<std::tuple<TokenId, TokenId, TokenId>> rules;  // in rank order
  BpeModel model = make();

  BpeModel make() {
    rules = {{'a', 'b', 300}, {'b', 'c', 301}, {300, 'c', 302}, {'a', 'a', 303}, {303, 303, 304},
             {'c', 'c', 305}, {302, 300, 306}, {305, 'a', 307}, {304, 'b', 308}};
    MergeTable table;
    for (std::uint32_t rank = 0; rank < rules.size(); ++rank) {
      const auto& [l, r, m] = rules[rank];
      table.insert(l, r, {rank, m});
    }
    std::array<TokenId, 256> bytes{};
    for (unsigned b = 0; b < 256; ++b) bytes[b] = b;
    return BpeModel(bytes, std::move(table));
  }

  std::vector<TokenId> reference(std::string_view piece) const {
    std::vector<TokenId> s(piece.begin(), piece.end());
    while (true) {
      std::size_t best_rank = rules.size(), at = 0;
      for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        for (std::size_t rank = 0; rank < best_rank; ++rank) {
          if (std::get<0>(rules[rank]) == s[i] && std::get<1>(rules[rank]) == s[i + 1]) {
            best_rank = rank;
            at = i;
          }
        }
      }
      if (best_rank == rules.size()) return s;
      s[at] = std::get<2>(rules[best_rank]);
      s.erase(s.begin() + at + 1);
    }
  }
};

TEST(BpeModel, ShortAndLongPiecesFollowTheMergeOrder) {
  TinyBpe bpe;
  BpeScratch scratch;
  std::mt19937 rng(7);
  // Lengths on both sides of the short/long threshold.
  for (std::size_t length = 1; length < 3 * BpeModel::kShortPieceBytes; ++length) {
    for (int trial = 0; trial < 20; ++trial) {
      std::string piece;
      for (std::size_t i = 0; i < length; ++i) piece.push_back("abc"[rng() % 3]);
      std::vector<TokenId> ids;
      bpe.model.encode_piece(piece, scratch, ids);
      ASSERT_EQ(ids, bpe.reference(piece)) << piece;
    }
  }
}

TEST(BpeModel, IgnoreMergesEmitsWholeWordTokens) {
  StringMap<TokenId> whole_words;
  whole_words.emplace("abc", 999);
  std::array<TokenId, 256> bytes{};
  for (unsigned b = 0; b < 256; ++b) bytes[b] = b;
  MergeTable table;
  table.insert('a', 'b', {0, 300});
  const BpeModel model(bytes, std::move(table), std::move(whole_words));
  BpeScratch scratch;
  std::vector<TokenId> ids;
  model.encode_piece("abc", scratch, ids);
  model.encode_piece("abd", scratch, ids);
  EXPECT_EQ(ids, (std::vector<TokenId>{999, 300, 'd'}));
}

std::vector<std::string> split(const PreTokenizer& pre, std::string_view text) {
  MatchScratch scratch;
  std::vector<std::string_view> pieces;
  pre.split(text, scratch, pieces);
  return {pieces.begin(), pieces.end()};
}

SplitRule rule(const char* pattern, SplitBehavior behavior = SplitBehavior::isolated, bool invert = false) {
  return {UnicodeRegex(pattern, UnicodeRegex::Syntax::regex, "test"), behavior, invert};
}

TEST(PreTokenizer, IsolatedKeepsMatchesAndGaps) {
  PreTokenizer pre;
  pre.add_split(rule(R"(\p{N}{1,3})"));
  EXPECT_EQ(split(pre, "ab12345cd"), (std::vector<std::string>{"ab", "123", "45", "cd"}));
}

TEST(PreTokenizer, RemovedAndInvert) {
  PreTokenizer removed;
  removed.add_split(rule(" ", SplitBehavior::removed));
  EXPECT_EQ(split(removed, "a b  c"), (std::vector<std::string>{"a", "b", "c"}));
  PreTokenizer kept;
  kept.add_split(rule(R"(\p{L}+)", SplitBehavior::removed, /*invert=*/true));
  EXPECT_EQ(split(kept, "hi, yo!"), (std::vector<std::string>{"hi", "yo"}));
}

TEST(PreTokenizer, EachRuleSeesOnlyItsPiece) {
  // \s+(?!\S) must see the end of the piece "  " as an end, not the "x" after it.
  PreTokenizer pre;
  pre.add_split(rule("x"));
  pre.add_split(rule(R"(\s+(?!\S)|\s+)"));
  EXPECT_EQ(split(pre, "a  x"), (std::vector<std::string>{"a", "  ", "x"}));
  PreTokenizer single;
  single.add_split(rule(R"(\s+(?!\S)|\s+)"));
  EXPECT_EQ(split(single, "a  x"), (std::vector<std::string>{"a", " ", " ", "x"}));
}

TEST(PreTokenizer, EmptyMatchesCutWithoutEmptyPieces) {
  PreTokenizer pre;
  pre.add_split(rule("x*"));
  EXPECT_EQ(split(pre, "aéb"), (std::vector<std::string>{"a", "é", "b"}));
}

TEST(PreTokenizer, UnicodeClassesUsePcre2Properties) {
  PreTokenizer pre;
  pre.add_split(rule(R"([\p{L}\p{M}]+|\p{N}+|\s+|[\p{P}\p{S}]+)"));
  EXPECT_EQ(split(pre, "naïve 深度 ١٢٣ «»"),
            (std::vector<std::string>{"naïve", " ", "深度", " ", "١٢٣", " ", "«»"}));
}

TEST(UnicodeRegex, SpacesMeanUnicodeWhiteSpaceAsInOniguruma) {
  EXPECT_EQ(UnicodeRegex::with_oniguruma_spaces(R"(\s+(?!\S)|[^\s\p{L}]\\s\Q\s\E\s)"),
            R"(\p{White_Space}+(?!\P{White_Space})|[^\p{White_Space}\p{L}]\\s\Q\s\E\p{White_Space})");
  // U+180E MONGOLIAN VOWEL SEPARATOR is not White_Space (PCRE2's own \s takes it).
  PreTokenizer pre;
  pre.add_split(rule(R"(\s+(?!\S)|\s+)"));
  EXPECT_EQ(split(pre, "\t\t\u180E\u3000x"), (std::vector<std::string>{"\t", "\t", "\u180E", "\u3000", "x"}));
}

TEST(UnicodeRegex, BadPatternNamesWhereItCameFrom) {
  try {
    UnicodeRegex("(unclosed", UnicodeRegex::Syntax::regex, "tokenizer.json: pre_tokenizer.pattern.Regex");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("tokenizer.json: pre_tokenizer.pattern.Regex: cannot compile pattern"),
              std::string::npos)
        << e.what();
  }
}

std::vector<std::pair<std::string, TokenId>> segments(const AddedVocabulary& vocab, std::string_view text) {
  std::vector<TextSegment> out;
  vocab.split(text, out);
  std::vector<std::pair<std::string, TokenId>> result;
  for (const auto& s : out) result.emplace_back(std::string(s.text), s.added_token);
  return result;
}

TEST(AddedVocabulary, LeftmostLongestFirstPassThenSecond) {
  const AddedVocabulary vocab({{10, "<a>", true, false},
                               {11, "<a><b>", true, false},
                               {12, "b><c", false, true},  // normalized: second pass
                               {13, "<c>", false, true}});
  EXPECT_EQ(segments(vocab, "x<a><b>y"), (std::vector<std::pair<std::string, TokenId>>{
                                             {"x", kNoToken}, {"<a><b>", 11}, {"y", kNoToken}}));
  // The first pass takes "<a>"; "b><c" then wins over "<c>" in the rest only
  // where it is leftmost.
  EXPECT_EQ(segments(vocab, "<a>b><c>"), (std::vector<std::pair<std::string, TokenId>>{
                                             {"<a>", 10}, {"b><c", 12}, {">", kNoToken}}));
  EXPECT_EQ(segments(vocab, "plain"), (std::vector<std::pair<std::string, TokenId>>{{"plain", kNoToken}}));
  EXPECT_TRUE(segments(vocab, "").empty());
}

TEST(WordCache, ReturnsWhatWasStoredAndEmptiesWhenFull) {
  WordCache cache(2);
  const std::vector<TokenId> ids = {1, 2, 3};
  cache.insert("abc", ids);
  std::vector<TokenId> out = {9};
  EXPECT_TRUE(cache.lookup("abc", out));
  EXPECT_EQ(out, (std::vector<TokenId>{9, 1, 2, 3}));
  EXPECT_FALSE(cache.lookup("abd", out));
  cache.insert("x1", std::vector<TokenId>{4});
  cache.insert("x2", std::vector<TokenId>{5});  // full: starts over
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.lookup("abc", out));
  cache.insert(std::string(WordCache::kMaxWordBytes + 1, 'z'), ids);  // too long to keep
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace fathom::tokenizer
