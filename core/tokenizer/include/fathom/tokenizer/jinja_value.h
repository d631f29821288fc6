// The values a chat template computes with: Python's, as Jinja2 sees them.
//
// Chat templates are Jinja2 programs run by Python, so their results follow
// Python's rules: `1 == 1.0`, `true == 1`, strings indexed by code point,
// None printed as "None", an undefined name printed as "". Value keeps those
// rules in one place so that the interpreter reads like the language.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace fathom::tokenizer::jinja {

class Value;
using List = std::vector<Value>;
// Keys are strings (JSON's and every chat template's); order is insertion order,
// as in a Python dict.
using Dict = std::vector<std::pair<std::string, Value>>;

// namespace(...): the one mutable object a template can make, so that a loop can
// carry state out of its body.
struct Namespace {
  Dict attributes;
};

// A name that was never set. It remembers what was looked up, for the message
// when it is used where a value is needed.
struct Undefined {
  std::string name;
};

struct None {};

class Value {
 public:
  enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, name_space };

  Value() : v_(None{}) {}
  Value(None) : v_(None{}) {}
  Value(Undefined u) : v_(std::move(u)) {}
  Value(bool b) : v_(b) {}
  Value(std::int64_t i) : v_(i) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  // Lists and dicts nest at most kMaxDepth deep (invalid_argument beyond): printing,
  // comparing and freeing a value recurse through it.
  Value(List l);
  Value(Dict d);
  Value(std::shared_ptr<Namespace> n) : v_(std::move(n)), depth_(1) {}

  static constexpr std::uint32_t kMaxDepth = 512;

  static Value undefined(std::string name) { return Value(Undefined{std::move(name)}); }
  // JSON → Value: objects keep their member order when `json` is ordered.
  static Value from_json(const nlohmann::json& json);
  static Value from_json(const nlohmann::ordered_json& json);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_number() const { return kind() == Kind::integer || kind() == Kind::floating || kind() == Kind::boolean; }
  bool is_list() const { return kind() == Kind::list; }
  bool is_dict() const { return kind() == Kind::dict; }

  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  double as_double() const;  // integer, floating or boolean
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(v_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(v_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(v_); }
  const std::string& undefined_name() const { return std::get<Undefined>(v_).name; }

  // Python's bool(): empty strings, lists and dicts, zero, None and undefined are false.
  bool truthy() const;
  // Python's str(): what {{ value }} prints.
  std::string str() const;
  // Python's repr(): how a value prints inside a printed list or dict.
  std::string repr() const;
  // Python's type name, for error messages ("str", "int", "NoneType", ...).
  std::string_view type_name() const;

  // A member of a dict or namespace (undefined when absent or not a mapping).
  Value member(std::string_view name) const;

  // 0 for a scalar, 1 + the deepest item for a list or dict, 1 for a namespace.
  std::uint32_t depth() const { return depth_; }
  // Whether a namespace is this value or inside it.
  bool holds_namespace() const;

 private:
  std::variant<Undefined, None, bool, std::int64_t, double, std::string, std::shared_ptr<const List>,
               std::shared_ptr<const Dict>, std::shared_ptr<Namespace>>
      v_;
  std::uint32_t depth_ = 0;
};

// A dict's member by key (nullptr when absent), and setting one: replaced in place, or added
// at the end as a Python dict adds it. Scopes, namespaces and argument lists are Dicts too.
const Value* find_member(const Dict& members, std::string_view key);
void set_member(Dict& members, std::string_view key, Value value);

// Python's ==, with True == 1 == 1.0 and undefined equal only to undefined.
bool equal(const Value& a, const Value& b);

// json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sort_keys) as
// transformers' `tojson` filter calls it; indent < 0 means none (", " and ": "
// separators, as Python's default).
std::string to_json(const Value& value, int indent, bool sort_keys);

// Python's float repr: the shortest text that reads back as the same double.
std::string python_float_repr(double d);

}  // namespace fathom::tokenizer::jinja
