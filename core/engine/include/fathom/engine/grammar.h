// A context-free grammar over bytes, the form structured output compiles to (a JSON schema:
// json_schema_grammar.h) and GrammarAutomaton runs.
//
// A rule is a list of alternatives; an alternative is a sequence of elements, each a set of
// bytes (one byte of input) or a reference to a rule. Working on bytes rather than code points
// keeps the tokens' bytes the unit of matching; UTF-8 is spelled out in the rules themselves.
//
// Built through GrammarBuilder, which refuses what the automaton could not run: a rule used but
// never defined, and left recursion (a rule reaching itself before reading a byte, which would
// expand forever).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::engine {

// 256 bits, one per byte value.
struct ByteSet {
  std::array<uint64_t, 4> words{};

  static ByteSet of(uint8_t byte);
  static ByteSet range(uint8_t first, uint8_t last);  // inclusive
  static ByteSet of_chars(std::string_view bytes);
  bool contains(uint8_t b) const { return ((words[b >> 6] >> (b & 63)) & 1) != 0; }
  ByteSet operator|(const ByteSet& o) const;
  ByteSet operator-(const ByteSet& o) const;
  bool empty() const { return (words[0] | words[1] | words[2] | words[3]) == 0; }
  bool operator==(const ByteSet&) const = default;
};

struct GrammarElement {
  enum class Kind : uint8_t { bytes, rule, end };
  Kind kind = Kind::end;
  uint32_t index = 0;  // bytes: into Grammar::byte_sets(); rule: the rule id
};

class Grammar {
 public:
  // Every alternative of every rule, back to back, each closed by an `end` element. A position
  // in this array is what the automaton keeps on its stacks.
  const std::vector<GrammarElement>& elements() const { return elements_; }
  // Where rule r's alternatives start in elements().
  const std::vector<uint32_t>& alternatives(uint32_t rule) const { return rules_[rule]; }
  const ByteSet& byte_set(uint32_t index) const { return byte_sets_[index]; }
  uint32_t root() const { return root_; }
  // What the grammar was built from, when the builder was told ("json-schema:" + the schema):
  // grammars with equal keys are equal, so their automata may be shared. Empty: no key.
  const std::string& key() const { return key_; }
  size_t rule_count() const { return rules_.size(); }

  // Bytes no byte set tells apart share a class: the automaton's transitions are per class.
  uint8_t byte_class(uint8_t b) const { return byte_class_[b]; }
  uint32_t class_count() const { return class_count_; }

 private:
  friend class GrammarBuilder;
  std::vector<GrammarElement> elements_;
  std::vector<std::vector<uint32_t>> rules_;
  std::vector<ByteSet> byte_sets_;
  std::array<uint8_t, 256> byte_class_{};
  uint32_t class_count_ = 0;
  uint32_t root_ = 0;
  std::string key_;
};

class GrammarBuilder {
 public:
  using Seq = std::vector<GrammarElement>;

  Seq bytes(const ByteSet& set);
  Seq byte(uint8_t b) { return bytes(ByteSet::of(b)); }
  Seq text(std::string_view s);  // these bytes, in order
  static Seq ref(uint32_t rule) { return {GrammarElement{GrammarElement::Kind::rule, rule}}; }
  static Seq empty() { return {}; }

  // A rule to be defined later (for recursion), or one defined at once.
  uint32_t declare(std::string name);
  void define(uint32_t rule, std::vector<Seq> alternatives);
  uint32_t rule(std::string name, std::vector<Seq> alternatives);

  // Throws invalid_argument naming the rule for an undefined rule or left recursion. `key`: see
  // Grammar::key().
  Grammar build(uint32_t root, std::string key = {}) const;
  size_t rule_count() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<Seq>> alternatives_;
  std::vector<bool> defined_;
  std::vector<ByteSet> byte_sets_;
};

// Concatenation of sequences.
GrammarBuilder::Seq operator+(GrammarBuilder::Seq a, const GrammarBuilder::Seq& b);

// Copies every rule of `grammar` into `builder` (names prefixed with `prefix`) and returns the
// copy of its root: a grammar compiled on its own (a JSON schema's, a regular expression's) becomes
// a part of a larger one.
uint32_t import_grammar(GrammarBuilder& builder, const Grammar& grammar, const std::string& prefix);

}  // namespace fathom::engine
