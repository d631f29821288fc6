#include "fathom/engine/json_schema_grammar.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/json_prefix.h"
#include "json_string_pattern.h"

namespace fathom::engine {

namespace {

using json = nlohmann::ordered_json;
using Seq = GrammarBuilder::Seq;

// The limits JSON mode keeps (json_prefix.h), so that both modes read alike.
constexpr int kMaxWhitespaceRun = JsonPrefix::kMaxWhitespaceRun;
constexpr int kMaxIntegerDigits = JsonPrefix::kMaxIntegerDigits;
// minItems, maxItems, minLength and maxLength are unrolled into a rule per count.
constexpr int64_t kMaxCount = 1024;
// Schemas nested deeper than this are refused (the compiler recurses once per level).
constexpr int kMaxSchemaDepth = 64;
// uniqueItems: the most values its items may take (the grammar grows with their square).
constexpr int64_t kMaxUniqueValues = 64;
// The grammar a schema may grow to (checked where counts unroll).
constexpr size_t kMaxRules = 200'000;

// Keywords that describe without constraining (`format`: the ones generated are handled below).
const std::set<std::string, std::less<>> kAnnotations = {
    "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$schema", "$id",
    "$comment", "$defs", "definitions", "format", "contentEncoding", "contentMediaType", "discriminator"};

// The keywords that apply to one type only, and that type.
const std::map<std::string, std::string, std::less<>> kTypeOfKeyword = {
    {"properties", "object"}, {"required", "object"}, {"additionalProperties", "object"},
    {"minProperties", "object"}, {"maxProperties", "object"}, {"propertyNames", "object"},
    {"patternProperties", "object"},
    {"items", "array"},       {"minItems", "array"},  {"maxItems", "array"}, {"prefixItems", "array"},
    {"uniqueItems", "array"},
    {"minLength", "string"},  {"maxLength", "string"}, {"pattern", "string"},
    {"minimum", "number"},    {"maximum", "number"},  {"exclusiveMinimum", "number"},
    {"exclusiveMaximum", "number"}, {"multipleOf", "number"}};

const std::vector<std::string> kBounds = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};

// Integers are generated with at most kMaxIntegerDigits digits: |value| <= kLargest.
__extension__ typedef __int128 Wide;  // 10^20 does not fit 64 bits
constexpr Wide kLargest = [] {
  Wide p = 1;
  for (int i = 0; i < kMaxIntegerDigits; ++i) p *= 10;
  return p - 1;
}();

std::string digits_of(Wide v) {  // v >= 0
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v > 0);
  return s;
}

const std::set<std::string, std::less<>> kStructural = {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"};

const std::vector<std::string> kTypeNames = {"null", "boolean", "object", "array", "number", "integer", "string"};

std::string child(const std::string& at, std::string_view token) {
  std::string escaped;
  for (char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return at + "/" + escaped;
}

[[noreturn]] void malformed(const std::string& at, const std::string& what) {
  throw invalid_argument("JSON schema at '#" + at + "': " + what);
}

// The JSON type names a value has ("integer" values are numbers too).
bool has_type(const json& v, const std::string& type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  // integer: JSON Schema counts 1.0 as one
  return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                    std::floor(v.get<double>()) == v.get<double>());
}

class SchemaCompiler {
 public:
  explicit SchemaCompiler(const json& root) : root_(root) { shared_rules(); }

  Grammar compile() {
    const uint32_t value = schema(root_, "", 0);
    return g_.build(g_.rule("root", {ws() + GrammarBuilder::ref(value)}), "json-schema:" + root_.dump());
  }

 private:
  Seq ws() const { return GrammarBuilder::ref(ws_); }
  static Seq ref(uint32_t rule) { return GrammarBuilder::ref(rule); }
  Seq group(const std::string& name, std::vector<Seq> alternatives) { return ref(g_.rule(name, std::move(alternatives))); }
  Seq optional(const std::string& name, Seq seq) { return group(name, {std::move(seq), Seq{}}); }

  // The rules every schema shares: whitespace, strings, numbers, any value.
  void shared_rules() {
    // ws_k: k whitespace bytes read in this run.
    std::vector<uint32_t> runs(kMaxWhitespaceRun + 1);
    for (auto& r : runs) r = g_.declare("ws");
    const Seq blank = g_.bytes(ByteSet::of_chars(" \t\n\r"));
    for (int k = 0; k < kMaxWhitespaceRun; ++k) g_.define(runs[k], {Seq{}, blank + ref(runs[k + 1])});
    g_.define(runs[kMaxWhitespaceRun], {Seq{}});
    ws_ = runs[0];

    const Seq hex = g_.bytes(ByteSet::range('0', '9') | ByteSet::range('a', 'f') | ByteSet::range('A', 'F'));
    const Seq cont = g_.bytes(ByteSet::range(0x80, 0xBF));
    const Seq d = g_.bytes(ByteSet::of_chars("dD"));
    // \uXXXX outside the surrogates, or a high surrogate's escape followed by a low one's.
    const Seq plain_hex4 =
        group("hex4", {g_.bytes(ByteSet::range('0', '9') | ByteSet::range('a', 'c') | ByteSet::range('A', 'C') |
                                ByteSet::of_chars("eEfF")) + hex + hex + hex,
                       d + g_.bytes(ByteSet::range('0', '7')) + hex + hex});
    const Seq high = d + g_.bytes(ByteSet::of_chars("89abAB")) + hex + hex;
    const Seq low = d + g_.bytes(ByteSet::range('c', 'f') | ByteSet::range('C', 'F')) + hex + hex;
    const Seq escape = group("escape", {g_.bytes(ByteSet::of_chars("\"\\/bfnrt")), g_.byte('u') + plain_hex4,
                                        g_.byte('u') + high + g_.text("\\u") + low});
    // One character: printable ASCII but '"' and '\', UTF-8 without overlong forms or
    // surrogates (RFC 3629), or an escape.
    char_ = g_.rule(
        "char",
        {g_.bytes(ByteSet::range(0x20, 0x7F) - ByteSet::of_chars("\"\\")),
         g_.bytes(ByteSet::range(0xC2, 0xDF)) + cont,
         g_.byte(0xE0) + g_.bytes(ByteSet::range(0xA0, 0xBF)) + cont,
         g_.bytes(ByteSet::range(0xE1, 0xEC) | ByteSet::range(0xEE, 0xEF)) + cont + cont,
         g_.byte(0xED) + g_.bytes(ByteSet::range(0x80, 0x9F)) + cont,
         g_.byte(0xF0) + g_.bytes(ByteSet::range(0x90, 0xBF)) + cont + cont,
         g_.bytes(ByteSet::range(0xF1, 0xF3)) + cont + cont + cont,
         g_.byte(0xF4) + g_.bytes(ByteSet::range(0x80, 0x8F)) + cont + cont,
         g_.byte('\\') + escape});
    const uint32_t chars = g_.declare("chars");
    g_.define(chars, {g_.byte('"'), ref(char_) + ref(chars)});
    string_ = g_.rule("string", {g_.byte('"') + ref(chars)});

    // Integers of at most kMaxIntegerDigits digits, no leading zero.
    const Seq digit = g_.bytes(ByteSet::range('0', '9'));
    // more[k]: k digits read (k >= 1); the last allowed one admits no more.
    std::vector<uint32_t> more(kMaxIntegerDigits + 1);
    for (int k = 1; k <= kMaxIntegerDigits; ++k) more[k] = g_.declare("digits");
    for (int k = 1; k < kMaxIntegerDigits; ++k) g_.define(more[k], {Seq{}, digit + ref(more[k + 1])});
    g_.define(more[kMaxIntegerDigits], {Seq{}});
    const Seq natural = group("natural", {g_.byte('0'), g_.bytes(ByteSet::range('1', '9')) + ref(more[1])});
    integer_ = g_.rule("integer", {optional("minus", g_.byte('-')) + natural});
    const uint32_t fraction_digits = g_.declare("fraction");
    g_.define(fraction_digits, {digit, digit + ref(fraction_digits)});
    const Seq fraction = optional("fraction?", g_.byte('.') + ref(fraction_digits));
    const Seq exponent = optional("exponent?", g_.bytes(ByteSet::of_chars("eE")) +
                                                   optional("sign?", g_.bytes(ByteSet::of_chars("+-"))) + digit +
                                                   optional("digit?", digit));
    number_ = g_.rule("number", {ref(integer_) + fraction + exponent});

    // Any JSON value (the schema true, or {}).
    any_ = g_.declare("value");
    any_object_ = map_object("object", any_);
    const uint32_t elements = g_.declare("elements");
    g_.define(elements, {ref(any_) + ws() + group("elements-tail", {g_.byte(',') + ws() + ref(elements), g_.byte(']')})});
    g_.define(any_, {ref(any_object_), g_.byte('[') + ws() + group("array", {g_.byte(']'), ref(elements)}),
                     ref(string_), ref(number_), g_.text("true"), g_.text("false"), g_.text("null")});
  }

  // An object of any keys, each with a value of rule `value`.
  uint32_t map_object(const std::string& name, uint32_t value) {
    const uint32_t members = g_.declare(name + "(members)");
    g_.define(members, {ref(string_) + ws() + g_.byte(':') + ws() + ref(value) + ws() +
                        group("members-tail", {g_.byte(',') + ws() + ref(members), g_.byte('}')})});
    return g_.rule(name, {g_.byte('{') + ws() + group("object-body", {g_.byte('}'), ref(members)})});
  }

  // An object of `min`..`max` members (max -1: any number), keys of rule `key`, values of rule
  // `value`. A key may repeat, and a parser keeps one member per key: more than one member
  // cannot be promised, so min is at most 1 (checked by the caller).
  uint32_t counted_map_object(const std::string& name, uint32_t key, uint32_t value, int64_t min, int64_t max) {
    const Seq member = ref(key) + ws() + g_.byte(':') + ws() + ref(value) + ws();
    return g_.rule(name, {g_.byte('{') + ws() + repeat("members", member, g_.byte(',') + ws(), g_.byte('}'), min, max)});
  }

  // The keywords of schema object `s` that shape what is generated; refuses any not supported.
  static std::set<std::string, std::less<>> keywords_of(const json& s, const std::string& at) {
    std::set<std::string, std::less<>> keywords;
    for (const auto& [key, value] : s.items()) {
      if (kAnnotations.contains(key)) continue;
      if (!kStructural.contains(key) && !kTypeOfKeyword.contains(key)) {
        throw unsupported("JSON schema at '#" + child(at, key) + "': the keyword '" + key +
                          "' is not supported for structured output (supported: type, enum, const, anyOf, oneOf, "
                          "allOf, $ref, properties, required, additionalProperties, patternProperties, "
                          "minProperties, maxProperties, propertyNames, items, prefixItems, minItems, maxItems, uniqueItems, minLength, maxLength, "
                          "pattern, format, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf)");
      }
      keywords.insert(key);
    }
    return keywords;
  }

  uint32_t schema(const json& s, const std::string& at, int depth) {
    if (depth > kMaxSchemaDepth) malformed(at, "nested more than " + std::to_string(kMaxSchemaDepth) + " schemas deep");
    if (s.is_boolean()) {
      if (!s.get<bool>()) malformed(at, "the schema false allows no value");
      return any_;
    }
    if (!s.is_object()) malformed(at, "a schema must be an object or a boolean, not " + std::string(s.type_name()));
    const std::set<std::string, std::less<>> keywords = keywords_of(s, at);
    auto only = [&](std::string_view keyword, const std::set<std::string, std::less<>>& allowed) {
      for (const std::string& k : keywords) {
        if (k != keyword && !allowed.contains(k)) {
          throw unsupported("JSON schema at '#" + at + "': '" + std::string(keyword) + "' combined with '" + k +
                            "' is not supported");
        }
      }
    };
    if (keywords.contains("$ref")) {
      only("$ref", {});
      return reference(s["$ref"], child(at, "$ref"), depth);
    }
    if (keywords.contains("anyOf")) {
      only("anyOf", {});
      return any_of(s["anyOf"], child(at, "anyOf"), depth);
    }
    if (keywords.contains("oneOf")) {
      only("oneOf", {});
      check_one_of(s["oneOf"], child(at, "oneOf"));
      return any_of(s["oneOf"], child(at, "oneOf"), depth);
    }
    if (keywords.contains("allOf")) {
      only("allOf", {});
      const json& all = s["allOf"];
      if (!all.is_array() || all.size() != 1) {
        throw unsupported("JSON schema at '#" + child(at, "allOf") + "': only an allOf of one schema is supported");
      }
      return schema(all[0], child(at, "allOf/0"), depth + 1);
    }
    const std::vector<std::string> types = types_of(s, at, keywords);
    if (keywords.contains("enum") || keywords.contains("const")) {
      only(keywords.contains("enum") ? "enum" : "const", {"type", "enum", "const"});
      return literals(s, at, types);
    }
    std::vector<Seq> alternatives;
    for (const std::string& type : types) {
      if (type == "null") alternatives.push_back(g_.text("null"));
      if (type == "boolean") alternatives.push_back(group("boolean", {g_.text("true"), g_.text("false")}));
      const bool bounded = std::any_of(kBounds.begin(), kBounds.end(), [&](const std::string& k) { return s.contains(k); });
      const bool numeric_once = type == "number" || std::find(types.begin(), types.end(), "number") == types.end();
      if ((type == "number" || type == "integer") && numeric_once && s.contains("multipleOf")) {
        alternatives.push_back(multiples(s, at));
      } else if (type == "number") {
        alternatives.push_back(bounded ? bounded_number(s, at) : ref(number_));
      } else if (type == "integer" && numeric_once) {
        alternatives.push_back(bounded ? bounded_integer(s, at) : ref(integer_));
      }
      if (type == "string") alternatives.push_back(ref(string(s, at)));
      if (type == "array") alternatives.push_back(ref(array(s, at, depth)));
      if (type == "object") alternatives.push_back(ref(object(s, at, depth)));
    }
    return g_.rule(at.empty() ? "#" : at, std::move(alternatives));
  }

  // `type`, or the types the keywords present are about, or all of them.
  std::vector<std::string> types_of(const json& s, const std::string& at,
                                    const std::set<std::string, std::less<>>& keywords) {
    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      const std::string where = child(at, "type");
      std::vector<json> names = t.is_array() ? std::vector<json>(t.begin(), t.end()) : std::vector<json>{t};
      if (names.empty()) malformed(where, "the list of types is empty");
      for (const json& name : names) {
        if (!name.is_string() ||
            std::find(kTypeNames.begin(), kTypeNames.end(), name.get<std::string>()) == kTypeNames.end()) {
          malformed(where, "unknown type " + name.dump() + " (null, boolean, object, array, number, integer, string)");
        }
        types.push_back(name.get<std::string>());
      }
      return types;
    }
    if (keywords.contains("enum") || keywords.contains("const")) return kTypeNames;
    for (const std::string& k : keywords) {
      if (auto it = kTypeOfKeyword.find(k); it != kTypeOfKeyword.end() &&
                                            std::find(types.begin(), types.end(), it->second) == types.end()) {
        types.push_back(it->second);
      }
    }
    return types.empty() ? kTypeNames : types;
  }

  // The values enum and const allow: the const value, only if an enum beside it lists it too.
  static std::vector<json> literal_values(const json& s) {
    const bool listed = s.contains("enum") && s["enum"].is_array();
    if (!s.contains("const")) return listed ? std::vector<json>(s["enum"].begin(), s["enum"].end()) : std::vector<json>{};
    if (listed && std::find(s["enum"].begin(), s["enum"].end(), s["const"]) == s["enum"].end()) return {};
    return {s["const"]};
  }

  // enum / const: the values themselves, those of an allowed type.
  uint32_t literals(const json& s, const std::string& at, const std::vector<std::string>& types) {
    if (s.contains("enum") && (!s["enum"].is_array() || s["enum"].empty())) {
      malformed(child(at, "enum"), "must be a non-empty array");
    }
    const std::vector<json> values = literal_values(s);
    std::vector<Seq> alternatives;
    for (const json& v : values) {
      const bool typed = std::any_of(types.begin(), types.end(), [&](const std::string& t) { return has_type(v, t); });
      if (!typed) continue;
      try {
        alternatives.push_back(g_.text(v.dump()));
      } catch (const nlohmann::json::exception& e) {
        malformed(at, std::string("a value cannot be written as JSON: ") + e.what());
      }
    }
    if (alternatives.empty()) malformed(at, "no value of enum/const has an allowed type: nothing can be generated");
    return g_.rule(at.empty() ? "#" : at, std::move(alternatives));
  }

  // oneOf: exactly one branch may match. Generated as anyOf, which is right only when no value
  // matches two branches; Fathom accepts it where that is plain from the branches themselves.
  struct BranchShape {
    std::set<std::string> types;                    // JSON types it generates ("integer" and "number" overlap)
    std::set<std::string> accepts;                  // JSON types it lets through (all, unless `type` or enum/const says)
    std::optional<std::vector<json>> values;        // enum/const: only these values
    std::map<std::string, std::vector<json>> tags;  // an object's required members with enum/const values
  };

  // Follows $ref and allOf-of-one to the schema they stand for.
  const json& resolved(const json& s, const std::string& at) {
    const json* r = &s;
    for (int hops = 0; r->is_object() && hops < kMaxSchemaDepth; ++hops) {
      if (r->contains("$ref") && (*r)["$ref"].is_string()) {
        const std::string target = (*r)["$ref"].get<std::string>();
        if (target.empty() || target[0] != '#') break;  // refused where it is compiled
        r = &pointed_to(target, at);
      } else if (r->contains("allOf") && (*r)["allOf"].is_array() && (*r)["allOf"].size() == 1) {
        r = &(*r)["allOf"][0];
      } else {
        break;
      }
    }
    return *r;
  }

  BranchShape shape_of(const json& branch, const std::string& at) {
    const json& s = resolved(branch, at);
    BranchShape shape;
    const std::set<std::string> all(kTypeNames.begin(), kTypeNames.end());
    shape.types = shape.accepts = all;
    if (!s.is_object()) return shape;
    const auto keywords = keywords_of(s, at);
    if (!keywords.contains("anyOf") && !keywords.contains("oneOf")) {
      const std::vector<std::string> generated = types_of(s, at, keywords);
      shape.types = std::set<std::string>(generated.begin(), generated.end());
      if (s.contains("type")) shape.accepts = shape.types;
    }
    if (keywords.contains("enum") || keywords.contains("const")) {
      shape.values = literal_values(s);
      shape.types.clear();
      for (const json& v : *shape.values) {
        for (const std::string& t : kTypeNames) {
          if (has_type(v, t)) shape.types.insert(t);
        }
      }
      shape.accepts = shape.types;
    }
    for (std::set<std::string>* types : {&shape.types, &shape.accepts}) {
      if (types->contains("number")) types->insert("integer");
      if (types->contains("integer")) types->insert("number");
    }
    if (shape.types == std::set<std::string>{"object"} && s.contains("required") && s["required"].is_array() &&
        s.contains("properties") && s["properties"].is_object()) {
      for (const json& name : s["required"]) {
        if (!name.is_string() || !s["properties"].contains(name.get<std::string>())) continue;
        const json& member = resolved(s["properties"][name.get<std::string>()], at);
        if (member.is_object() && (member.contains("const") || member.contains("enum"))) {
          shape.tags[name.get<std::string>()] = literal_values(member);
        }
      }
    }
    return shape;
  }

  static bool share_a_value(const std::vector<json>& a, const std::vector<json>& b) {
    return std::any_of(a.begin(), a.end(), [&](const json& v) { return std::find(b.begin(), b.end(), v) != b.end(); });
  }

  // No value one generates matches the other: each generates only what the other refuses.
  static bool told_apart(const BranchShape& a, const BranchShape& b) {
    if (a.values && b.values && !share_a_value(*a.values, *b.values)) return true;
    auto disjoint = [](const std::set<std::string>& x, const std::set<std::string>& y) {
      return std::none_of(x.begin(), x.end(), [&](const std::string& t) { return y.contains(t); });
    };
    if (disjoint(a.types, b.accepts) && disjoint(b.types, a.accepts)) return true;
    // Both generate objects only, each with a required member whose values the other's lacks.
    for (const auto& [name, values] : a.tags) {
      if (auto it = b.tags.find(name); it != b.tags.end() && !share_a_value(values, it->second)) return true;
    }
    return false;
  }

  void check_one_of(const json& list, const std::string& at) {
    if (!list.is_array() || list.empty()) malformed(at, "must be a non-empty array of schemas");
    std::vector<BranchShape> shapes;
    for (size_t i = 0; i < list.size(); ++i) shapes.push_back(shape_of(list[i], child(at, std::to_string(i))));
    for (size_t i = 0; i < shapes.size(); ++i) {
      for (size_t j = i + 1; j < shapes.size(); ++j) {
        if (!told_apart(shapes[i], shapes[j])) {
          throw unsupported("JSON schema at '#" + at + "': branches " + std::to_string(i) + " and " + std::to_string(j) +
                            " of oneOf may both match one value; Fathom generates oneOf only when its branches differ "
                            "in type, in their enum/const values, or in the enum/const value of a required member "
                            "(a discriminator). Use anyOf if matching both is fine");
        }
      }
    }
  }

  uint32_t any_of(const json& list, const std::string& at, int depth) {
    if (!list.is_array() || list.empty()) malformed(at, "must be a non-empty array of schemas");
    std::vector<Seq> alternatives;
    for (size_t i = 0; i < list.size(); ++i) {
      alternatives.push_back(ref(schema(list[i], child(at, std::to_string(i)), depth + 1)));
    }
    return g_.rule(at, std::move(alternatives));
  }

  // The place a "#..." reference names in this schema.
  const json& pointed_to(const std::string& ref_text, const std::string& at) const {
    try {
      return root_.at(json::json_pointer(ref_text.substr(1)));
    } catch (const nlohmann::json::exception&) {
      malformed(at, "\"" + ref_text + "\" does not name a place in the schema");
    }
  }

  // $ref: a JSON pointer into this schema. Declared before its target is compiled, so that a
  // recursive schema refers back to the rule being built.
  uint32_t reference(const json& target, const std::string& at, int depth) {
    if (!target.is_string()) malformed(at, "must be a string");
    const std::string ref_text = target.get<std::string>();
    if (auto it = refs_.find(ref_text); it != refs_.end()) return it->second;
    if (ref_text.empty() || ref_text[0] != '#') {
      throw unsupported("JSON schema at '#" + at + "': only references inside the schema (\"#...\") are supported, not \"" +
                        ref_text + "\"");
    }
    const json& target_schema = pointed_to(ref_text, at);
    const uint32_t rule = g_.declare(ref_text);
    refs_.emplace(ref_text, rule);
    g_.define(rule, {ref(schema(target_schema, ref_text.substr(1), depth + 1))});
    return rule;
  }

  // A count keyword (minItems, ...): absent, or an integer in [0, kMaxCount].
  static std::optional<int64_t> count(const json& s, const std::string& at, const std::string& keyword) {
    if (!s.contains(keyword)) return std::nullopt;
    const json& v = s[keyword];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) malformed(child(at, keyword), "must be a non-negative integer");
    if (v.get<int64_t>() > kMaxCount) {
      throw unsupported("JSON schema at '#" + child(at, keyword) + "': counts above " + std::to_string(kMaxCount) +
                        " are not supported");
    }
    return v.get<int64_t>();
  }

  // [min, max] of a count pair; max = -1 for no bound.
  static std::pair<int64_t, int64_t> bounds(const json& s, const std::string& at, const std::string& min_key,
                                            const std::string& max_key) {
    const int64_t min = count(s, at, min_key).value_or(0);
    const int64_t max = count(s, at, max_key).value_or(-1);
    if (max >= 0 && max < min) malformed(at, max_key + " is below " + min_key + ": nothing can be generated");
    return {min, max};
  }

  // A run of `min`..`max` repetitions of `item`, each preceded by `separator` but the first, then
  // `close`. step[k]: k items read.
  Seq repeat(const std::string& name, const Seq& item, const Seq& separator, const Seq& close, int64_t min, int64_t max) {
    if (g_.rule_count() > kMaxRules) throw unsupported("the JSON schema is too large: its grammar passed " + std::to_string(kMaxRules) + " rules");
    const int64_t last = max >= 0 ? max : std::max<int64_t>(min, 1);
    std::vector<uint32_t> step(static_cast<size_t>(last) + 1);
    for (auto& r : step) r = g_.declare(name);
    for (int64_t k = 0; k <= last; ++k) {
      std::vector<Seq> alternatives;
      if (k >= min) alternatives.push_back(close);
      const Seq lead = k == 0 ? Seq{} : separator;
      if (max < 0 || k < max) {
        alternatives.push_back(lead + item + ref(step[static_cast<size_t>(k < last ? k + 1 : last)]));
      }
      g_.define(step[static_cast<size_t>(k)], std::move(alternatives));
    }
    return ref(step[0]);
  }

  // The inclusive integer range the bounds allow, clamped to what is generated at all.
  static std::pair<Wide, Wide> integer_bounds(const json& s, const std::string& at) {
    Wide lo = -kLargest, hi = kLargest;
    for (const std::string& k : kBounds) {
      if (!s.contains(k)) continue;
      const json& v = s[k];
      if (!v.is_number()) malformed(child(at, k), "must be a number");
      const bool lower = k == "minimum" || k == "exclusiveMinimum";
      const bool exclusive = k.starts_with("exclusive");
      // The first integer within the bound.
      Wide bound;
      if (v.is_number_integer()) {
        bound = v.is_number_unsigned() ? static_cast<Wide>(v.get<uint64_t>()) : static_cast<Wide>(v.get<int64_t>());
        if (exclusive) bound += lower ? 1 : -1;
      } else {
        const long double x = v.get<double>();
        if (!std::isfinite(x)) malformed(child(at, k), "must be finite");
        // Past 2^53 a double is not the number the schema wrote (nlohmann::json reads integers
        // beyond 64 bits as doubles): usable only where it bounds nothing generated.
        const long double exact = 9007199254740992.0L, far = 2 * static_cast<long double>(kLargest);
        if (std::fabs(x) >= exact && !(lower ? x <= -far : x >= far)) {
          throw unsupported("JSON schema at '#" + child(at, k) + "': " + v.dump() +
                            " is not exact as a double; integer bounds must fit 64 bits");
        }
        const long double limit = static_cast<long double>(kLargest) + 2;
        const long double r = lower ? (exclusive ? std::floor(x) + 1 : std::ceil(x))
                                    : (exclusive ? std::ceil(x) - 1 : std::floor(x));
        bound = static_cast<Wide>(std::clamp(r, -limit, limit));
      }
      if (lower) {
        lo = std::max(lo, bound);
      } else {
        hi = std::min(hi, bound);
      }
    }
    if (lo > hi) malformed(at, "no integer of at most 20 digits lies within the bounds: nothing can be generated");
    return {lo, hi};
  }

  // Digit strings of one length from x to y (x <= y, as strings of equal length).
  Seq digits_between(const std::string& x, const std::string& y) {
    if (x.empty()) return Seq{};
    if (x == y) return g_.text(x);
    const std::string rest_x = x.substr(1), rest_y = y.substr(1);
    const std::string zeros(rest_x.size(), '0'), nines(rest_x.size(), '9');
    auto any_digits = [&](size_t n) {
      Seq seq;
      for (size_t i = 0; i < n; ++i) seq = seq + g_.bytes(ByteSet::range('0', '9'));
      return seq;
    };
    const auto first = static_cast<uint8_t>(x[0]), last = static_cast<uint8_t>(y[0]);
    if (first == last) return g_.byte(first) + digits_between(rest_x, rest_y);
    if (rest_x == zeros && rest_y == nines) return g_.bytes(ByteSet::range(first, last)) + any_digits(rest_x.size());
    std::vector<Seq> alternatives{g_.byte(first) + digits_between(rest_x, nines)};
    if (first + 1 <= last - 1) {
      alternatives.push_back(g_.bytes(ByteSet::range(static_cast<uint8_t>(first + 1), static_cast<uint8_t>(last - 1))) +
                             any_digits(rest_x.size()));
    }
    alternatives.push_back(g_.byte(last) + digits_between(zeros, rest_y));
    return group("digits", std::move(alternatives));
  }

  // The naturals from a to b (0 <= a <= b), without leading zeros: one run per digit count.
  // `then(n)`, when given, follows each run of n digits.
  std::vector<Seq> naturals_between(Wide a, Wide b, const std::function<Seq(int)>& then = nullptr) {
    std::vector<Seq> alternatives;
    Wide low_of_length = 0, high_of_length = 9;
    for (int length = 1; low_of_length <= b; ++length) {
      const Wide x = std::max(a, low_of_length), y = std::min(b, high_of_length);
      if (x <= y) alternatives.push_back(digits_between(digits_of(x), digits_of(y)) + (then ? then(length) : Seq{}));
      low_of_length = high_of_length + 1;
      high_of_length = high_of_length * 10 + 9;
    }
    return alternatives;
  }

  Seq bounded_integer(const json& s, const std::string& at) {
    const auto [lo, hi] = integer_bounds(s, at);
    std::vector<Seq> alternatives;
    if (hi >= 0) alternatives = naturals_between(std::max<Wide>(lo, 0), hi);
    if (lo < 0) {
      const Seq magnitudes = group("magnitude", naturals_between(std::max<Wide>(1, -hi), -lo));
      alternatives.push_back(g_.byte('-') + magnitudes);
    }
    return group(at + "(integer)", std::move(alternatives));
  }

  // multipleOf: a whole number up to kMaxModulus. The multiples are generated as integers (for
  // `number` too: a subset of the valid values), digit by digit with the remainder so far.
  static constexpr int kMaxModulus = 1000;
  std::map<std::tuple<int, int, int>, std::optional<Seq>> free_multiple_digits_;  // (modulus, digits left, remainder)

  // Any `n` digits that take remainder `r` to 0 modulo `k`; nullopt when none do.
  std::optional<Seq> free_digits(int k, int n, int r) {
    const auto key = std::make_tuple(k, n, r);
    if (auto it = free_multiple_digits_.find(key); it != free_multiple_digits_.end()) return it->second;
    std::optional<Seq> result;
    if (n == 0) {
      if (r == 0) result = Seq{};
    } else {
      std::map<int, ByteSet> by_remainder;  // the digits that lead to each next remainder
      for (int d = 0; d <= 9; ++d) {
        ByteSet& digits = by_remainder[(10 * r + d) % k];
        digits = digits | ByteSet::of(static_cast<uint8_t>('0' + d));
      }
      std::vector<Seq> alternatives;
      for (const auto& [next, digits] : by_remainder) {
        if (auto rest = free_digits(k, n - 1, next)) alternatives.push_back(g_.bytes(digits) + *rest);
      }
      if (!alternatives.empty()) result = ref(g_.rule("multiple-digits", std::move(alternatives)));
    }
    free_multiple_digits_[key] = result;
    return result;
  }

  // Digit strings from x to y (of one length) whose value is a multiple of k.
  std::optional<Seq> digits_multiple(const std::string& x, const std::string& y, int k) {
    std::map<std::tuple<size_t, bool, bool, int>, std::optional<Seq>> memo;
    std::function<std::optional<Seq>(size_t, bool, bool, int)> from = [&](size_t pos, bool tight_lo, bool tight_hi,
                                                                          int r) -> std::optional<Seq> {
      if (!tight_lo && !tight_hi) return free_digits(k, static_cast<int>(x.size() - pos), r);
      if (pos == x.size()) return r == 0 ? std::optional<Seq>(Seq{}) : std::nullopt;
      const auto key = std::make_tuple(pos, tight_lo, tight_hi, r);
      if (auto it = memo.find(key); it != memo.end()) return it->second;
      const char first = tight_lo ? x[pos] : '0', last = tight_hi ? y[pos] : '9';
      std::vector<Seq> alternatives;
      std::map<int, ByteSet> inner;  // digits strictly between the bounds', by the remainder they lead to
      for (char c = first; c <= last; ++c) {
        const int next = (10 * r + (c - '0')) % k;
        const bool stays_lo = tight_lo && c == first, stays_hi = tight_hi && c == last;
        if (stays_lo || stays_hi) {
          if (auto rest = from(pos + 1, stays_lo, stays_hi, next)) alternatives.push_back(g_.byte(static_cast<uint8_t>(c)) + *rest);
        } else {
          inner[next] = inner[next] | ByteSet::of(static_cast<uint8_t>(c));
        }
      }
      for (const auto& [next, digits] : inner) {
        if (auto rest = free_digits(k, static_cast<int>(x.size() - pos - 1), next)) alternatives.push_back(g_.bytes(digits) + *rest);
      }
      std::optional<Seq> result;
      if (!alternatives.empty()) result = group("multiple", std::move(alternatives));
      memo[key] = result;
      return result;
    };
    return from(0, true, true, 0);
  }

  // The multiples of k from a to b (0 <= a <= b), without leading zeros.
  std::vector<Seq> multiples_between(Wide a, Wide b, int k) {
    std::vector<Seq> alternatives;
    Wide low_of_length = 0, high_of_length = 9;
    for (int length = 1; low_of_length <= b; ++length) {
      const Wide x = std::max(a, low_of_length), y = std::min(b, high_of_length);
      if (x <= y) {
        if (auto run = digits_multiple(digits_of(x), digits_of(y), k)) alternatives.push_back(std::move(*run));
      }
      low_of_length = high_of_length + 1;
      high_of_length = high_of_length * 10 + 9;
    }
    return alternatives;
  }

  Seq multiples(const json& s, const std::string& at) {
    const json& m = s["multipleOf"];
    const std::string where = child(at, "multipleOf");
    if (!m.is_number() || !(m.get<double>() > 0)) malformed(where, "must be a number above 0");
    const double value = m.get<double>();
    if (std::floor(value) != value || value > kMaxModulus) {
      throw unsupported("JSON schema at '#" + where + "': multipleOf must be a whole number up to " +
                        std::to_string(kMaxModulus) + ", not " + m.dump());
    }
    const int k = static_cast<int>(value);
    const auto [lo, hi] = integer_bounds(s, at);
    std::vector<Seq> alternatives;
    if (hi >= 0) alternatives = multiples_between(std::max<Wide>(lo, 0), hi, k);
    if (lo < 0) {
      std::vector<Seq> magnitudes = multiples_between(std::max<Wide>(1, -hi), -lo, k);
      if (!magnitudes.empty()) alternatives.push_back(g_.byte('-') + group("magnitude", std::move(magnitudes)));
    }
    if (alternatives.empty()) malformed(at, "no multiple of " + m.dump() + " lies within the bounds: nothing can be generated");
    return group(at + "(multiple)", std::move(alternatives));
  }

  // Bounded numbers are generated as decimals without an exponent, of at most
  // kMaxBoundedDigits digits in all, and their bounds must be decimals of at most as many:
  // distinct decimals of 15 significant digits stay distinct, in order, as doubles, so a parser
  // that reads numbers as doubles (Python's json, under jsonschema) still finds the bounds kept,
  // and nothing underflows to zero.
  static constexpr int kMaxBoundedDigits = 15;

  // A decimal as the schema wrote it: sign, integer part, fraction digits without trailing zeros.
  struct Decimal {
    bool negative = false;
    Wide whole = 0;
    std::string fraction;

    Decimal negated() const {
      Decimal d = *this;
      d.negative = !d.negative && (whole != 0 || !fraction.empty());
      return d;
    }
    // <0, 0, >0 as |a| is below, equal to or above |b|.
    static int compare_magnitude(const Decimal& a, const Decimal& b) {
      if (a.whole != b.whole) return a.whole < b.whole ? -1 : 1;
      const size_t n = std::max(a.fraction.size(), b.fraction.size());
      const std::string fa = a.fraction + std::string(n - a.fraction.size(), '0');
      const std::string fb = b.fraction + std::string(n - b.fraction.size(), '0');
      return fa.compare(fb) < 0 ? -1 : fa == fb ? 0 : 1;
    }
    static int compare(const Decimal& a, const Decimal& b) {
      if (a.negative != b.negative) return a.negative ? -1 : 1;
      const int m = compare_magnitude(a, b);
      return a.negative ? -m : m;
    }
    bool is_zero() const { return whole == 0 && fraction.empty(); }
  };
  struct Bound {
    Decimal value;
    bool exclusive;
  };

  // A bound's exact decimal: JSON integers as they are, other numbers from their shortest
  // round-trip text (what the schema wrote). Refuses what 15 digits do not hold.
  static Decimal decimal_bound(const json& v, const std::string& where) {
    Decimal d;
    if (v.is_number_integer()) {
      const Wide value = v.is_number_unsigned() ? static_cast<Wide>(v.get<uint64_t>()) : static_cast<Wide>(v.get<int64_t>());
      d.negative = value < 0;
      d.whole = value < 0 ? -value : value;
      return d;
    }
    std::string text = v.dump();  // e.g. "-0.25", "1e-05", "1.5e+20"
    if (!text.empty() && text[0] == '-') {
      d.negative = true;
      text.erase(0, 1);
    }
    int exponent = 0;
    if (const size_t e = text.find_first_of("eE"); e != std::string::npos) {
      exponent = std::stoi(text.substr(e + 1));
      text.erase(e);
    }
    std::string digits = text;
    int point = static_cast<int>(digits.size());
    if (const size_t dot = digits.find('.'); dot != std::string::npos) {
      point = static_cast<int>(dot);
      digits.erase(dot, 1);
    }
    point += exponent;
    const size_t last = digits.find_last_not_of('0');
    if (last == std::string::npos) return Decimal{};  // zero (or -0)
    // |v| < 10^15 here (number_bounds), so the integer part has at most 15 digits.
    for (int i = 0; i < point; ++i) d.whole = d.whole * 10 + (i < static_cast<int>(digits.size()) ? digits[static_cast<size_t>(i)] - '0' : 0);
    for (int i = std::max(point, 0); i <= static_cast<int>(last); ++i) d.fraction += digits[static_cast<size_t>(i)];
    if (point < 0) d.fraction = std::string(static_cast<size_t>(-point), '0') + d.fraction;
    while (!d.fraction.empty() && d.fraction.back() == '0') d.fraction.pop_back();
    if (static_cast<int>(digits_of(d.whole).size() + d.fraction.size()) > kMaxBoundedDigits) {
      throw unsupported("JSON schema at '#" + where + "': " + v.dump() + " has more than " +
                        std::to_string(kMaxBoundedDigits) + " digits; number bounds must be decimals of at most as many");
    }
    return d;
  }

  static std::pair<Bound, Bound> number_bounds(const json& s, const std::string& at) {
    Wide limit = 1;
    for (int i = 0; i < kMaxBoundedDigits; ++i) limit *= 10;
    limit -= 1;
    Bound lo{Decimal{true, limit, {}}, false}, hi{Decimal{false, limit, {}}, false};
    for (const std::string& k : kBounds) {
      if (!s.contains(k)) continue;
      const json& v = s[k];
      if (!v.is_number()) malformed(child(at, k), "must be a number");
      const bool exclusive = k.starts_with("exclusive");
      const bool lower = k == "minimum" || k == "exclusiveMinimum";
      // Past 15 digits nothing is generated anyway: such a bound narrows nothing, or leaves nothing.
      const long double x = v.is_number_unsigned()  ? static_cast<long double>(v.get<uint64_t>())
                            : v.is_number_integer() ? static_cast<long double>(v.get<int64_t>())
                                                    : static_cast<long double>(v.get<double>());
      if (!std::isfinite(x)) malformed(child(at, k), "must be finite");
      if (std::fabs(x) > static_cast<long double>(limit)) {
        if (lower == (x > 0)) malformed(at, "no number of at most 15 digits lies within the bounds: nothing can be generated");
        continue;
      }
      const Bound b{decimal_bound(v, child(at, k)), exclusive};
      const int c = Decimal::compare(b.value, lower ? lo.value : hi.value);
      if (lower ? (c > 0 || (c == 0 && exclusive)) : (c < 0 || (c == 0 && exclusive))) (lower ? lo : hi) = b;
    }
    const int c = Decimal::compare(lo.value, hi.value);
    if (c > 0 || (c == 0 && (lo.exclusive || hi.exclusive))) {
      malformed(at, "no number of at most 15 digits lies within the bounds: nothing can be generated");
    }
    return {lo, hi};
  }

  // Up to `n` more of `atom`.
  Seq up_to(const Seq& atom, int n) { return n <= 0 ? Seq{} : optional("up-to", atom + up_to(atom, n - 1)); }

  // What may follow an integer part: nothing (a fraction of 0), or a point and 1..room digits,
  // whose value as a fraction lies within the bounds given (`low`/`high`: digit strings without
  // trailing zeros; absent: no bound on that side). nullopt when nothing does.
  std::optional<Seq> fraction_within(const std::optional<Bound>& low, const std::optional<Bound>& high, int room) {
    const std::string lo = low ? low->value.fraction : std::string(), hi = high ? high->value.fraction : std::string();
    const auto digit_at = [](const std::string& f, int i) { return i < static_cast<int>(f.size()) ? f[static_cast<size_t>(i)] : '0'; };
    // Digits from position i on, with the digits so far equal to the low (high) bound's.
    std::map<std::tuple<int, bool, bool>, std::optional<Seq>> memo;
    std::function<std::optional<Seq>(int, bool, bool)> from = [&](int i, bool tight_lo, bool tight_hi) -> std::optional<Seq> {
      const auto key = std::make_tuple(i, tight_lo, tight_hi);
      if (auto it = memo.find(key); it != memo.end()) return it->second;
      std::vector<Seq> alternatives;
      // End here: the rest reads as zeros.
      const bool low_ok = !tight_lo || (i >= static_cast<int>(lo.size()) && !low->exclusive);
      const bool high_ok = !tight_hi || !high->exclusive || i < static_cast<int>(hi.size());
      if (i > 0 && low_ok && high_ok) alternatives.push_back(Seq{});
      if (i < room) {
        const char first = tight_lo ? digit_at(lo, i) : '0', last = tight_hi ? digit_at(hi, i) : '9';
        for (char c = first; c <= last;) {
          const bool stays_lo = tight_lo && c == first, stays_hi = tight_hi && c == last;
          if (!stays_lo && !stays_hi) {
            // Free from here: the digits strictly between the bounds' at once.
            const char until = static_cast<char>(tight_hi ? last - 1 : '9');
            alternatives.push_back(g_.bytes(ByteSet::range(static_cast<uint8_t>(c), static_cast<uint8_t>(until))) +
                                   up_to(g_.bytes(ByteSet::range('0', '9')), room - i - 1));
            c = static_cast<char>(until + 1);
            continue;
          }
          if (auto rest = from(i + 1, stays_lo, stays_hi)) alternatives.push_back(g_.byte(static_cast<uint8_t>(c)) + *rest);
          ++c;
        }
      }
      std::optional<Seq> result;
      if (!alternatives.empty()) result = group("fraction", std::move(alternatives));
      memo[key] = result;
      return result;
    };
    // No point at all: a fraction of 0.
    const bool zero_ok = (!low || (lo.empty() && !low->exclusive)) && (!high || !high->exclusive || !hi.empty());
    std::vector<Seq> alternatives;
    if (zero_ok) alternatives.push_back(Seq{});
    if (room > 0) {
      if (auto digits = from(0, low.has_value(), high.has_value())) alternatives.push_back(g_.byte('.') + *digits);
    }
    if (alternatives.empty()) return std::nullopt;
    return group("fraction", std::move(alternatives));
  }

  // Decimals m with from <= m <= to (< where exclusive), 0 <= from <= to, as magnitudes.
  std::vector<Seq> decimals_between(Bound from, Bound to) {
    std::vector<Seq> alternatives;
    auto room = [](Wide v) { return kMaxBoundedDigits - static_cast<int>(digits_of(v).size()); };
    const Wide a = from.value.whole, b = to.value.whole;
    if (a == b) {
      if (auto f = fraction_within(from, to, room(a))) alternatives.push_back(g_.text(digits_of(a)) + *f);
      return alternatives;
    }
    if (auto f = fraction_within(from, std::nullopt, room(a))) alternatives.push_back(g_.text(digits_of(a)) + *f);
    // Integer parts strictly between: any fraction keeps them within.
    if (a + 1 <= b - 1) {
      for (Seq& run : naturals_between(a + 1, b - 1, [&](int n) { return *fraction_within(std::nullopt, std::nullopt, kMaxBoundedDigits - n); })) {
        alternatives.push_back(std::move(run));
      }
    }
    if (auto f = fraction_within(std::nullopt, to, room(b))) alternatives.push_back(g_.text(digits_of(b)) + *f);
    return alternatives;
  }

  Seq bounded_number(const json& s, const std::string& at) {
    const auto [lo, hi] = number_bounds(s, at);
    const Decimal zero;
    std::vector<Seq> alternatives;
    const int hi_sign = Decimal::compare(hi.value, zero), lo_sign = Decimal::compare(lo.value, zero);
    if (hi_sign > 0 || (hi_sign == 0 && !hi.exclusive)) {
      alternatives = decimals_between(lo_sign >= 0 ? lo : Bound{zero, false}, hi);
    }
    if (lo_sign < 0) {
      // -m for m within [-hi, -lo]; m above 0 (no "-0").
      const Bound from = hi_sign < 0 ? Bound{hi.value.negated(), hi.exclusive} : Bound{zero, true};
      const std::vector<Seq> negative = decimals_between(from, Bound{lo.value.negated(), lo.exclusive});
      if (!negative.empty()) alternatives.push_back(g_.byte('-') + group("magnitude", negative));
    }
    if (alternatives.empty()) malformed(at, "no number of at most 15 digits lies within the bounds: nothing can be generated");
    return group(at + "(number)", std::move(alternatives));
  }

  uint32_t string(const json& s, const std::string& at) {
    // pattern, or a format Fathom generates (json_string_pattern.h); other formats annotate.
    std::string pattern, where;
    if (s.contains("format") && s["format"].is_string()) {
      pattern = format_pattern(s["format"].get<std::string>());
      where = child(at, "format");
    }
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) malformed(child(at, "pattern"), "must be a string");
      if (!pattern.empty()) throw unsupported("JSON schema at '#" + at + "': 'pattern' with 'format' is not supported");
      pattern = s["pattern"].get<std::string>();
      where = child(at, "pattern");
    }
    if (!where.empty() && !pattern.empty()) {
      if (s.contains("minLength") || s.contains("maxLength")) {
        throw unsupported("JSON schema at '#" + at + "': minLength/maxLength with a pattern or format is not supported");
      }
      return g_.rule(at + "(string)", {g_.byte('"') + ref(pattern_string_contents(g_, pattern, char_, where)) + g_.byte('"')});
    }
    const auto [min, max] = bounds(s, at, "minLength", "maxLength");
    if (min == 0 && max < 0) return string_;
    return g_.rule(at + "(string)", {g_.byte('"') + repeat("string-char", ref(char_), Seq{}, g_.byte('"'), min, max)});
  }

  // Arrays: prefixItems (a tuple's members, in order), then `items` for the rest (false: none).
  uint32_t array(const json& s, const std::string& at, int depth) {
    std::vector<uint32_t> prefix;
    if (s.contains("prefixItems")) {
      const json& p = s["prefixItems"];
      if (!p.is_array()) malformed(child(at, "prefixItems"), "must be an array of schemas");
      for (size_t i = 0; i < p.size(); ++i) prefix.push_back(schema(p[i], child(child(at, "prefixItems"), std::to_string(i)), depth + 1));
    }
    uint32_t item = any_;
    bool more = true;  // items past the prefix
    if (s.contains("items")) {
      const json& items = s["items"];
      if (items.is_array()) {
        throw unsupported("JSON schema at '#" + child(at, "items") + "': items as a list (draft 7 tuples) is not "
                          "supported; prefixItems says the same");
      }
      if (items.is_boolean() && !items.get<bool>()) {
        more = false;
      } else {
        item = schema(items, child(at, "items"), depth + 1);
      }
    }
    auto [min, max] = bounds(s, at, "minItems", "maxItems");
    if (s.contains("uniqueItems")) {
      const json& unique = s["uniqueItems"];
      if (!unique.is_boolean()) malformed(child(at, "uniqueItems"), "must be a boolean");
      if (unique.get<bool>()) return unique_items(s, at, min, max);
    }
    const auto fixed = static_cast<int64_t>(prefix.size());
    if (!more) max = max < 0 ? fixed : std::min(max, fixed);
    if (min > (max < 0 ? min : max)) malformed(at, "minItems asks for more items than items false allows: nothing can be generated");
    const Seq separator = g_.byte(',') + ws();
    // After the prefix: each further item led by its separator.
    const Seq rest = repeat("items", (fixed > 0 ? separator : Seq{}) + ref(item) + ws(), fixed > 0 ? Seq{} : separator,
                            g_.byte(']'), std::max<int64_t>(min - fixed, 0), max < 0 ? -1 : std::max<int64_t>(max - fixed, 0));
    // Built from the back: `body` reads what may follow k prefix items. Past maxItems (when it
    // cuts the prefix short) `rest` is only the closing bracket.
    Seq body = rest;
    for (int64_t k = std::min(fixed, max < 0 ? fixed : max); k-- > 0;) {
      std::vector<Seq> alternatives;
      if (k >= min) alternatives.push_back(g_.byte(']'));
      alternatives.push_back((k > 0 ? separator : Seq{}) + ref(prefix[static_cast<size_t>(k)]) + ws() + body);
      body = group("prefix-items", std::move(alternatives));
    }
    return g_.rule(at + "(array)", {g_.byte('[') + ws() + body});
  }

  uint32_t object(const json& s, const std::string& at, int depth) {
    // additionalProperties: absent or true = any value, false = none, a schema = its values.
    bool extra_allowed = true;
    uint32_t extra = any_;
    if (s.contains("additionalProperties")) {
      const json& a = s["additionalProperties"];
      if (a.is_boolean() && !a.get<bool>()) {
        extra_allowed = false;
      } else {
        extra = schema(a, child(at, "additionalProperties"), depth + 1);
      }
    }
    const auto [min, max] = bounds(s, at, "minProperties", "maxProperties");
    const PropertyNames names = property_names(s, at, depth);
    const std::vector<KeyPattern> patterns = key_patterns(s, at);
    struct Member {
      std::string name;
      uint32_t value;
      bool required;
    };
    std::vector<Member> members;
    if (s.contains("properties")) {
      const json& p = s["properties"];
      if (!p.is_object()) malformed(child(at, "properties"), "must be an object");
      for (const auto& [name, sub] : p.items()) {
        // A property propertyNames does not allow can never be present.
        if (names.allows(name)) members.push_back({name, schema(sub, child(child(at, "properties"), name), depth + 1), false});
      }
    }
    if (s.contains("required")) {
      const json& r = s["required"];
      if (!r.is_array()) malformed(child(at, "required"), "must be an array of names");
      for (const json& name : r) {
        if (!name.is_string()) malformed(child(at, "required"), "must be an array of names, not holding " + name.dump());
        if (!names.allows(name.get<std::string>())) {
          malformed(child(at, "required"), "requires " + name.dump() + ", which propertyNames does not allow");
        }
        auto it = std::find_if(members.begin(), members.end(), [&](const Member& m) { return m.name == name; });
        if (it != members.end()) {
          it->required = true;
        } else if (extra_allowed) {  // required but not described: a value of additionalProperties
          members.push_back({name.get<std::string>(), extra, true});
        } else {
          malformed(child(at, "required"), "requires " + name.dump() +
                                               ", which is not in properties while additionalProperties is false");
        }
      }
    }
    for (const Member& m : members) {
      for (const KeyPattern& p : patterns) {
        if (p.matches(m.name)) {
          throw unsupported("JSON schema at '#" + child(at, "patternProperties") + "': the property \"" + m.name +
                            "\" also matches the pattern \"" + p.pattern + "\"; a member under two schemas is not supported");
        }
      }
    }
    if (members.empty() && !patterns.empty()) {
      // Members under the pattern: keys it matches, values of its schema (keys of no pattern
      // are not generated, so additionalProperties does not come in).
      if (patterns.size() > 1 || names.key) {
        throw unsupported("JSON schema at '#" + child(at, "patternProperties") + "': " +
                          (names.key ? std::string("patternProperties with propertyNames") : std::string("more than one pattern")) +
                          " in an object without properties is not supported");
      }
      if (min > 1) {
        throw unsupported("JSON schema at '#" + child(at, "minProperties") + "': more than one member of an object "
                          "without properties is not supported (its keys could repeat)");
      }
      const std::string where = child(child(at, "patternProperties"), patterns[0].pattern);
      const uint32_t key = schema(json{{"type", "string"}, {"pattern", patterns[0].pattern}}, where, depth + 1);
      const uint32_t value = schema(*patterns[0].schema, where, depth + 1);
      return counted_map_object(at + "(object)", key, value, min, max);
    }
    if (members.empty()) {
      if (!extra_allowed || names.none) {
        if (min > 0) malformed(at, "minProperties asks for members while none may be present: nothing can be generated");
        return g_.rule(at + "(object)", {g_.byte('{') + ws() + g_.byte('}')});
      }
      if (min > 1) {
        throw unsupported("JSON schema at '#" + child(at, "minProperties") + "': more than one member of an object "
                          "without properties is not supported (its keys could repeat)");
      }
      if (extra == any_ && !names.key && min == 0 && max < 0) return any_object_;
      return counted_map_object(at + "(object)", names.key ? *names.key : string_, extra, min, max);
    }
    return listed_members(members, at, min, max);
  }

  // The members `properties` lists, in its order, required ones always, with minProperties and
  // maxProperties counted: state (i, c) has members i.. to come and c written. Only states from
  // which a whole object can still be finished are entered.
  template <typename Member>
  uint32_t listed_members(const std::vector<Member>& members, const std::string& at, int64_t min, int64_t max) {
    const size_t n = members.size();
    std::vector<int64_t> required_from(n + 1, 0);  // required members among i..
    for (size_t i = n; i-- > 0;) required_from[i] = required_from[i + 1] + (members[i].required ? 1 : 0);
    if (static_cast<int64_t>(n) < min) {
      throw unsupported("JSON schema at '#" + child(at, "minProperties") + "': more members than properties lists "
                        "are not supported (Fathom generates the listed ones)");
    }
    if (max >= 0 && required_from[0] > max) malformed(at, "more members are required than maxProperties allows");
    // Counts above the last one that matters are all alike.
    const int64_t cap = max >= 0 ? max : min;
    auto feasible = [&](size_t i, int64_t c) {
      return c + static_cast<int64_t>(n - i) >= min && (max < 0 || c + required_from[i] <= max);
    };
    auto next_count = [&](int64_t c) { return std::min(c + 1, cap); };
    // first[i][c]: no member written yet; rest[i][c]: some written (a comma leads the next).
    std::vector<std::vector<uint32_t>> first(n + 1), rest(n + 1);
    for (size_t i = 0; i <= n; ++i) {
      for (int64_t c = 0; c <= cap; ++c) {
        first[i].push_back(g_.declare(at + "(members)"));
        rest[i].push_back(g_.declare(at + "(more members)"));
      }
    }
    for (size_t i = n + 1; i-- > 0;) {
      for (int64_t c = 0; c <= cap; ++c) {
        std::vector<Seq> first_alternatives, rest_alternatives;
        if (i == n) {
          if (c >= min) {
            first_alternatives.push_back(g_.byte('}'));
            rest_alternatives.push_back(g_.byte('}'));
          }
        } else {
          const Seq member = g_.text(json(members[i].name).dump()) + ws() + g_.byte(':') + ws() + ref(members[i].value) + ws();
          if ((max < 0 || c < max) && feasible(i + 1, next_count(c))) {
            first_alternatives.push_back(member + ref(rest[i + 1][static_cast<size_t>(next_count(c))]));
            rest_alternatives.push_back(g_.byte(',') + ws() + member + ref(rest[i + 1][static_cast<size_t>(next_count(c))]));
          }
          if (!members[i].required && feasible(i + 1, c)) {
            first_alternatives.push_back(ref(first[i + 1][static_cast<size_t>(c)]));
            rest_alternatives.push_back(ref(rest[i + 1][static_cast<size_t>(c)]));
          }
        }
        // A state no object can finish from is never entered; it still needs a definition.
        if (first_alternatives.empty()) first_alternatives.push_back(g_.byte('}'));
        if (rest_alternatives.empty()) rest_alternatives.push_back(g_.byte('}'));
        g_.define(first[i][static_cast<size_t>(c)], std::move(first_alternatives));
        g_.define(rest[i][static_cast<size_t>(c)], std::move(rest_alternatives));
      }
    }
    if (!feasible(0, 0)) malformed(at, "minProperties and maxProperties leave no object to generate");
    return g_.rule(at + "(object)", {g_.byte('{') + ws() + ref(first[0][0])});
  }

  // uniqueItems: true, for items of a few values (an enum, a const, booleans): each value at most
  // once, in the order the schema lists them, so that no two items can be equal. Other items
  // (strings, numbers) could repeat in ways a grammar cannot rule out, and are refused.
  uint32_t unique_items(const json& s, const std::string& at, int64_t min, int64_t max) {
    const std::string where = child(at, "uniqueItems");
    if (s.contains("prefixItems")) throw unsupported("JSON schema at '#" + where + "': uniqueItems with prefixItems is not supported");
    std::vector<json> values;
    const json& items = s.contains("items") ? resolved(s["items"], child(at, "items")) : json(true);
    const bool booleans = items.is_object() && items.contains("type") && items["type"] == "boolean" &&
                          keywords_of(items, child(at, "items")).size() == 1;
    if (booleans) {
      values = {json(true), json(false)};
    } else if (items.is_object() && (items.contains("enum") || items.contains("const"))) {
      const std::vector<std::string> types = types_of(items, child(at, "items"), keywords_of(items, child(at, "items")));
      for (const std::string& k : keywords_of(items, child(at, "items"))) {
        if (k != "enum" && k != "const" && k != "type") {
          throw unsupported("JSON schema at '#" + where + "': uniqueItems with items that combine enum/const and '" + k +
                            "' is not supported");
        }
      }
      for (const json& v : literal_values(items)) {
        const bool typed = std::any_of(types.begin(), types.end(), [&](const std::string& t) { return has_type(v, t); });
        // Values JSON calls equal (1 and 1.0) count as one.
        if (typed && std::none_of(values.begin(), values.end(), [&](const json& w) { return w == v; })) values.push_back(v);
      }
    } else {
      throw unsupported("JSON schema at '#" + where + "': uniqueItems is supported for items of an enum, a const or "
                        "booleans only (other values could repeat)");
    }
    const auto k = static_cast<int64_t>(values.size());
    if (k > kMaxUniqueValues) {
      throw unsupported("JSON schema at '#" + where + "': uniqueItems over more than " + std::to_string(kMaxUniqueValues) +
                        " values is not supported");
    }
    const int64_t most = max < 0 ? k : std::min(max, k);
    if (min > most) malformed(at, "minItems asks for more distinct items than the items allow: nothing can be generated");
    // after[j][c]: c items written, the last the (j-1)-th value; values j.. may follow.
    std::vector<std::vector<uint32_t>> after(static_cast<size_t>(k) + 1);
    for (auto& row : after) {
      for (int64_t c = 0; c <= most; ++c) row.push_back(g_.declare(at + "(unique items)"));
    }
    for (int64_t j = k + 1; j-- > 0;) {
      for (int64_t c = 0; c <= most; ++c) {
        std::vector<Seq> alternatives;
        if (c >= min) alternatives.push_back(g_.byte(']'));
        for (int64_t t = j; t < k && c < most; ++t) {
          if (c + 1 + (k - t - 1) < min) break;  // too few values left after this one
          const Seq lead = c == 0 ? Seq{} : g_.byte(',') + ws();
          alternatives.push_back(lead + g_.text(values[static_cast<size_t>(t)].dump()) + ws() +
                                 ref(after[static_cast<size_t>(t) + 1][static_cast<size_t>(c) + 1]));
        }
        if (alternatives.empty()) alternatives.push_back(g_.byte(']'));  // never entered (see the break above)
        g_.define(after[static_cast<size_t>(j)][static_cast<size_t>(c)], std::move(alternatives));
      }
    }
    return g_.rule(at + "(array)", {g_.byte('[') + ws() + ref(after[0][0])});
  }

  // patternProperties: each pattern, its schema, and a check of fixed names against it.
  struct KeyPattern {
    std::string pattern;
    const json* schema;
    std::shared_ptr<GrammarAutomaton> check;
    bool matches(const std::string& name) const {
      const auto state = check->feed(check->start(), json(name).dump());
      return state != GrammarAutomaton::kDead && check->accepting(state);
    }
  };

  std::vector<KeyPattern> key_patterns(const json& s, const std::string& at) {
    std::vector<KeyPattern> patterns;
    if (!s.contains("patternProperties")) return patterns;
    const json& p = s["patternProperties"];
    if (!p.is_object()) malformed(child(at, "patternProperties"), "must be an object of patterns and schemas");
    for (const auto& [pattern, sub] : p.items()) {
      const json keys = {{"type", "string"}, {"pattern", pattern}};
      try {
        patterns.push_back({pattern, &sub,
                            std::make_shared<GrammarAutomaton>(std::make_shared<const Grammar>(SchemaCompiler(keys).compile()))});
      } catch (const Error& e) {
        throw Error(e.code(), "JSON schema at '#" + child(child(at, "patternProperties"), pattern) + "': " + e.what());
      }
    }
    return patterns;
  }

  // propertyNames: the schema every key must satisfy. `key` generates the keys of an object
  // without properties; allows() tells whether a listed name satisfies it.
  struct PropertyNames {
    std::optional<uint32_t> key;
    std::shared_ptr<GrammarAutomaton> check;  // the schema alone, to judge fixed names
    bool none = false;                        // propertyNames false: no key at all
    bool allows(const std::string& name) const {
      if (none) return false;
      if (!check) return true;
      const auto state = check->feed(check->start(), json(name).dump());
      return state != GrammarAutomaton::kDead && check->accepting(state);
    }
  };

  PropertyNames property_names(const json& s, const std::string& at, int depth) {
    PropertyNames names;
    if (!s.contains("propertyNames")) return names;
    const std::string where = child(at, "propertyNames");
    const json& target = resolved(s["propertyNames"], where);
    if (target.is_boolean()) {
      names.none = !target.get<bool>();
      return names;
    }
    if (!target.is_object()) malformed(where, "must be a schema");
    json keys = target;
    if (!keys.contains("type")) keys["type"] = "string";  // a key is a string whatever the schema says of others
    if (keys["type"] != "string") malformed(where, "keys are strings; the schema must allow them (\"type\": \"string\")");
    names.key = schema(keys, where, depth + 1);
    try {
      names.check = std::make_shared<GrammarAutomaton>(std::make_shared<const Grammar>(SchemaCompiler(keys).compile()));
    } catch (const Error& e) {
      throw unsupported("JSON schema at '#" + where + "': a propertyNames schema that needs the rest of the schema "
                        "(" + e.what() + ") is not supported");
    }
    return names;
  }

  const json& root_;
  GrammarBuilder g_;
  std::map<std::string, uint32_t> refs_;
  uint32_t ws_ = 0, char_ = 0, string_ = 0, integer_ = 0, number_ = 0, any_ = 0;
  uint32_t any_object_ = 0;
};

}  // namespace

std::shared_ptr<const Grammar> json_schema_grammar(const nlohmann::ordered_json& schema) {
  try {
    return std::make_shared<const Grammar>(SchemaCompiler(schema).compile());
  } catch (const nlohmann::json::exception& e) {  // a value the checks above let through (invalid UTF-8 in a name)
    throw invalid_argument(std::string("the JSON schema cannot be read: ") + e.what());
  }
}

std::shared_ptr<const Grammar> json_schema_grammar(std::string_view schema_text) {
  json schema;
  try {
    schema = json::parse(schema_text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number past a double
    throw invalid_argument(std::string("the JSON schema is not JSON: ") + e.what());
  }
  return json_schema_grammar(schema);
}

}  // namespace fathom::engine
