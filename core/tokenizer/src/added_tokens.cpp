#include "fathom/tokenizer/added_tokens.h"

#include <cstring>

namespace fathom::tokenizer {

void TokenTrie::insert(std::string_view key, TokenId value) {
  if (key.empty()) return;
  const auto first = static_cast<unsigned char>(key[0]);
  only_first_byte_ = empty() || only_first_byte_ == first ? first : -1;
  first_bytes_[first] = true;
  std::uint32_t node = 0;
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    std::uint32_t child = 0;
    for (const auto& [edge, target] : nodes_[node].children) {
      if (edge == byte) child = target;
    }
    if (child == 0) {
      child = static_cast<std::uint32_t>(nodes_.size());
      nodes_[node].children.emplace_back(byte, child);
      nodes_.emplace_back();  // may reallocate: index, never hold references across it
    }
    node = child;
  }
  nodes_[node].value = value;
}

std::size_t TokenTrie::next_candidate(std::string_view text, std::size_t pos) const {
  if (only_first_byte_ >= 0) {
    const void* found = std::memchr(text.data() + pos, only_first_byte_, text.size() - pos);
    return found ? static_cast<std::size_t>(static_cast<const char*>(found) - text.data()) : text.size();
  }
  while (pos < text.size() && !first_bytes_[static_cast<unsigned char>(text[pos])]) ++pos;
  return pos;
}

TokenTrie::Hit TokenTrie::longest_at(std::string_view text, std::size_t pos) const {
  Hit hit;
  std::uint32_t node = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::uint32_t next = 0;
    for (const auto& [edge, target] : nodes_[node].children) {
      if (edge == byte) {
        next = target;
        break;
      }
    }
    if (next == 0) break;
    node = next;
    if (nodes_[node].value != kNoToken) hit = {i + 1 - pos, nodes_[node].value};
  }
  return hit;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (const AddedToken& token : tokens_) {
    (token.normalized ? normalized_pass_ : raw_pass_).insert(token.content, token.id);
  }
}

void AddedVocabulary::split(std::string_view text, std::vector<TextSegment>& segments) const {
  if (!text.empty()) scan(raw_pass_, &normalized_pass_, text, segments);
}

// Finds `trie`'s tokens in `text`; the plain runs between them go to `next_pass`
// (when there is one) or out as plain segments.
void AddedVocabulary::scan(const TokenTrie& trie, const TokenTrie* next_pass, std::string_view text,
                           std::vector<TextSegment>& segments) const {
  auto plain = [&](std::string_view run) {
    if (run.empty()) return;
    if (next_pass) {
      scan(*next_pass, nullptr, run, segments);
    } else {
      segments.push_back({run, kNoToken});
    }
  };
  if (trie.empty()) {
    plain(text);
    return;
  }
  std::size_t plain_begin = 0;
  std::size_t pos = 0;
  while ((pos = trie.next_candidate(text, pos)) < text.size()) {
    const TokenTrie::Hit hit = trie.longest_at(text, pos);
    if (hit.length == 0) {
      ++pos;
      continue;
    }
    plain(text.substr(plain_begin, pos - plain_begin));
    segments.push_back({text.substr(pos, hit.length), hit.value});
    pos += hit.length;
    plain_begin = pos;
  }
  plain(text.substr(plain_begin));
}

}  // namespace fathom::tokenizer
