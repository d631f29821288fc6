#include "fathom/engine/grammar.h"

#include <map>
#include <utility>

#include "fathom/core/error.h"

namespace fathom::engine {

ByteSet ByteSet::of(uint8_t b) { return range(b, b); }

ByteSet ByteSet::range(uint8_t first, uint8_t last) {
  ByteSet s;
  for (int b = first; b <= last; ++b) s.words[b >> 6] |= uint64_t{1} << (b & 63);
  return s;
}

ByteSet ByteSet::of_chars(std::string_view bytes) {
  ByteSet s;
  for (char c : bytes) s = s | of(static_cast<uint8_t>(c));
  return s;
}

ByteSet ByteSet::operator|(const ByteSet& o) const {
  ByteSet s;
  for (size_t i = 0; i < words.size(); ++i) s.words[i] = words[i] | o.words[i];
  return s;
}

ByteSet ByteSet::operator-(const ByteSet& o) const {
  ByteSet s;
  for (size_t i = 0; i < words.size(); ++i) s.words[i] = words[i] & ~o.words[i];
  return s;
}

GrammarBuilder::Seq operator+(GrammarBuilder::Seq a, const GrammarBuilder::Seq& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

GrammarBuilder::Seq GrammarBuilder::bytes(const ByteSet& set) {
  if (set.empty()) throw invalid_argument("a grammar byte set may not be empty");
  uint32_t index = 0;
  while (index < byte_sets_.size() && !(byte_sets_[index] == set)) ++index;
  if (index == byte_sets_.size()) byte_sets_.push_back(set);
  return {GrammarElement{GrammarElement::Kind::bytes, index}};
}

GrammarBuilder::Seq GrammarBuilder::text(std::string_view s) {
  Seq seq;
  for (char c : s) seq = seq + byte(static_cast<uint8_t>(c));
  return seq;
}

uint32_t GrammarBuilder::declare(std::string name) {
  names_.push_back(std::move(name));
  alternatives_.emplace_back();
  defined_.push_back(false);
  return static_cast<uint32_t>(names_.size() - 1);
}

void GrammarBuilder::define(uint32_t rule, std::vector<Seq> alternatives) {
  if (rule >= names_.size()) throw invalid_argument("grammar rule " + std::to_string(rule) + " was never declared");
  if (defined_[rule]) throw invalid_argument("grammar rule '" + names_[rule] + "' defined twice");
  if (alternatives.empty()) throw invalid_argument("grammar rule '" + names_[rule] + "' has no alternatives");
  alternatives_[rule] = std::move(alternatives);
  defined_[rule] = true;
}

uint32_t GrammarBuilder::rule(std::string name, std::vector<Seq> alternatives) {
  const uint32_t r = declare(std::move(name));
  define(r, std::move(alternatives));
  return r;
}

uint32_t import_grammar(GrammarBuilder& builder, const Grammar& grammar, const std::string& prefix) {
  std::vector<uint32_t> copy(grammar.rule_count());
  for (uint32_t r = 0; r < grammar.rule_count(); ++r) copy[r] = builder.declare(prefix + "." + std::to_string(r));
  const std::vector<GrammarElement>& elements = grammar.elements();
  for (uint32_t r = 0; r < grammar.rule_count(); ++r) {
    std::vector<GrammarBuilder::Seq> alternatives;
    for (uint32_t at : grammar.alternatives(r)) {
      GrammarBuilder::Seq seq;
      for (; elements[at].kind != GrammarElement::Kind::end; ++at) {
        const GrammarElement& e = elements[at];
        seq = std::move(seq) + (e.kind == GrammarElement::Kind::bytes ? builder.bytes(grammar.byte_set(e.index))
                                                                        : GrammarBuilder::ref(copy[e.index]));
      }
      alternatives.push_back(std::move(seq));
    }
    builder.define(copy[r], std::move(alternatives));
  }
  return copy[grammar.root()];
}

namespace {

using Seq = GrammarBuilder::Seq;
using Kind = GrammarElement::Kind;

// Rules that can match the empty input.
std::vector<bool> nullable_rules(const std::vector<std::vector<Seq>>& rules) {
  std::vector<bool> nullable(rules.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < rules.size(); ++r) {
      if (nullable[r]) continue;
      for (const Seq& alt : rules[r]) {
        bool all = true;
        for (const GrammarElement& e : alt) all = all && e.kind == Kind::rule && nullable[e.index];
        if (all) {
          nullable[r] = changed = true;
          break;
        }
      }
    }
  }
  return nullable;
}

// Finds a rule that reaches itself before any byte is read; returns its chain of names.
std::vector<uint32_t> left_recursion(const std::vector<std::vector<Seq>>& rules) {
  const std::vector<bool> nullable = nullable_rules(rules);
  std::vector<std::vector<uint32_t>> starts_with(rules.size());
  for (size_t r = 0; r < rules.size(); ++r) {
    for (const Seq& alt : rules[r]) {
      for (const GrammarElement& e : alt) {
        if (e.kind != Kind::rule) break;
        starts_with[r].push_back(e.index);
        if (!nullable[e.index]) break;
      }
    }
  }
  enum Mark : uint8_t { unseen, on_path, finished };
  std::vector<Mark> mark(rules.size(), unseen);
  std::vector<uint32_t> path;
  std::vector<uint32_t> cycle;
  auto visit = [&](auto&& self, uint32_t r) -> bool {
    mark[r] = on_path;
    path.push_back(r);
    for (uint32_t next : starts_with[r]) {
      if (mark[next] == on_path) {
        auto from = path.begin();
        while (*from != next) ++from;
        cycle.assign(from, path.end());
        cycle.push_back(next);
        return true;
      }
      if (mark[next] == unseen && self(self, next)) return true;
    }
    path.pop_back();
    mark[r] = finished;
    return false;
  };
  for (uint32_t r = 0; r < rules.size(); ++r) {
    if (mark[r] == unseen && visit(visit, r)) return cycle;
  }
  return {};
}

// Splits the 256 byte values into classes that every byte set sees alike.
uint32_t byte_classes(const std::vector<ByteSet>& sets, std::array<uint8_t, 256>& class_of) {
  std::array<uint32_t, 256> cls{};
  uint32_t count = 1;
  for (const ByteSet& set : sets) {
    std::map<std::pair<uint32_t, bool>, uint32_t> split;
    for (int b = 0; b < 256; ++b) {
      const auto key = std::make_pair(cls[b], set.contains(static_cast<uint8_t>(b)));
      cls[b] = split.emplace(key, static_cast<uint32_t>(split.size())).first->second;
    }
    count = static_cast<uint32_t>(split.size());
  }
  for (int b = 0; b < 256; ++b) class_of[b] = static_cast<uint8_t>(cls[b]);
  return count;
}

}  // namespace

Grammar GrammarBuilder::build(uint32_t root, std::string key) const {
  if (root >= names_.size()) throw invalid_argument("the grammar's root rule was never declared");
  for (size_t r = 0; r < names_.size(); ++r) {
    if (!defined_[r]) throw invalid_argument("grammar rule '" + names_[r] + "' is used but never defined");
  }
  if (const std::vector<uint32_t> cycle = left_recursion(alternatives_); !cycle.empty()) {
    std::string chain;
    for (uint32_t r : cycle) chain += (chain.empty() ? "" : " -> ") + names_[r];
    throw invalid_argument("grammar rule '" + names_[cycle.front()] +
                           "' reaches itself before reading anything (left recursion: " + chain + ")");
  }
  Grammar g;
  g.root_ = root;
  g.key_ = std::move(key);
  g.byte_sets_ = byte_sets_;
  g.rules_.resize(names_.size());
  for (size_t r = 0; r < names_.size(); ++r) {
    for (const Seq& alt : alternatives_[r]) {
      g.rules_[r].push_back(static_cast<uint32_t>(g.elements_.size()));
      g.elements_.insert(g.elements_.end(), alt.begin(), alt.end());
      g.elements_.push_back(GrammarElement{Kind::end, 0});
    }
  }
  g.class_count_ = byte_classes(byte_sets_, g.byte_class_);
  return g;
}

}  // namespace fathom::engine
