#include "fathom/tokenizer/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fathom/core/error.h"

namespace fathom::tokenizer::jinja {

namespace {

template <typename Json>
Value value_from_json(const Json& json) {
  switch (json.type()) {
    case nlohmann::json::value_t::null: return Value(None{});
    case nlohmann::json::value_t::boolean: return Value(json.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(json.template get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = json.template get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<std::int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return Value(json.template get<double>());
    case nlohmann::json::value_t::string: return Value(json.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List list;
      list.reserve(json.size());
      for (const auto& item : json) list.push_back(value_from_json(item));
      return Value(std::move(list));
    }
    case nlohmann::json::value_t::object: {
      Dict dict;
      dict.reserve(json.size());
      for (auto it = json.begin(); it != json.end(); ++it) dict.emplace_back(it.key(), value_from_json(it.value()));
      return Value(std::move(dict));
    }
    default: throw invalid_argument("chat template: a JSON value of this kind (binary) cannot be given to a template");
  }
}

// Python's str.__repr__ for the characters chat templates meet: quotes chosen as
// Python does, control characters escaped, everything else kept.
std::string string_repr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

// Python's json.dumps escapes a string as nlohmann::json does: \" \\ \b \f \n \r \t, other
// control characters as \u00XX, everything else (ensure_ascii=False) as is.
void append_json_string(std::string& out, const std::string& s) {
  out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_newline_indent(std::string& out, int indent, int depth) {
  out += '\n';
  out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(depth), ' ');
}

void append_json(std::string& out, const Value& value, int indent, bool sort_keys, int depth) {
  switch (value.kind()) {
    case Value::Kind::none: out += "null"; return;
    case Value::Kind::boolean: out += value.as_bool() ? "true" : "false"; return;
    case Value::Kind::integer: out += std::to_string(value.as_int()); return;
    case Value::Kind::floating: {
      const double d = value.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += python_float_repr(d);
      return;
    }
    case Value::Kind::string: append_json_string(out, value.as_string()); return;
    case Value::Kind::list: {
      const List& list = value.as_list();
      if (list.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) append_newline_indent(out, indent, depth + 1);
        append_json(out, list[i], indent, sort_keys, depth + 1);
      }
      if (indent >= 0) append_newline_indent(out, indent, depth);
      out += ']';
      return;
    }
    case Value::Kind::dict:
    case Value::Kind::name_space: {
      Dict members = value.kind() == Value::Kind::dict ? value.as_dict() : value.as_namespace().attributes;
      if (members.empty()) {
        out += "{}";
        return;
      }
      if (sort_keys) {
        std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      out += '{';
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) append_newline_indent(out, indent, depth + 1);
        append_json_string(out, members[i].first);
        out += ": ";
        append_json(out, members[i].second, indent, sort_keys, depth + 1);
      }
      if (indent >= 0) append_newline_indent(out, indent, depth);
      out += '}';
      return;
    }
    case Value::Kind::undefined:
      throw invalid_argument("chat template: tojson of '" + value.undefined_name() + "', which is undefined");
  }
}

}  // namespace

namespace {

template <typename Items, typename DepthOf>
std::uint32_t nested_depth(const Items& items, DepthOf depth_of) {
  std::uint32_t deepest = 0;
  for (const auto& item : items) deepest = std::max(deepest, depth_of(item));
  if (deepest + 1 > Value::kMaxDepth) {
    throw invalid_argument("chat template: a value nests lists and dicts deeper than " +
                           std::to_string(Value::kMaxDepth) + " levels");
  }
  return deepest + 1;
}

}  // namespace

Value::Value(List l)
    : depth_(nested_depth(l, [](const Value& v) { return v.depth(); })) {
  v_ = std::make_shared<const List>(std::move(l));
}

Value::Value(Dict d)
    : depth_(nested_depth(d, [](const std::pair<std::string, Value>& m) { return m.second.depth(); })) {
  v_ = std::make_shared<const Dict>(std::move(d));
}

bool Value::holds_namespace() const {
  switch (kind()) {
    case Kind::name_space: return true;
    case Kind::list:
      return std::any_of(as_list().begin(), as_list().end(), [](const Value& v) { return v.holds_namespace(); });
    case Kind::dict:
      return std::any_of(as_dict().begin(), as_dict().end(), [](const auto& m) { return m.second.holds_namespace(); });
    default: return false;
  }
}

Value Value::from_json(const nlohmann::json& json) { return value_from_json(json); }
Value Value::from_json(const nlohmann::ordered_json& json) { return value_from_json(json); }

double Value::as_double() const {
  switch (kind()) {
    case Kind::integer: return static_cast<double>(as_int());
    case Kind::floating: return std::get<double>(v_);
    case Kind::boolean: return as_bool() ? 1.0 : 0.0;
    default: throw internal_error("jinja::Value::as_double on a " + std::string(type_name()));
  }
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean: return as_bool();
    case Kind::integer: return as_int() != 0;
    case Kind::floating: return as_double() != 0.0;
    case Kind::string: return !as_string().empty();
    case Kind::list: return !as_list().empty();
    case Kind::dict: return !as_dict().empty();
    case Kind::name_space: return true;
  }
  return false;
}

std::string Value::str() const {
  switch (kind()) {
    case Kind::undefined: return "";
    case Kind::string: return as_string();
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind()) {
    case Kind::undefined: return "";
    case Kind::none: return "None";
    case Kind::boolean: return as_bool() ? "True" : "False";
    case Kind::integer: return std::to_string(as_int());
    case Kind::floating: {
      const double d = as_double();
      if (std::isnan(d)) return "nan";
      if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
      return python_float_repr(d);
    }
    case Kind::string: return string_repr(as_string());
    case Kind::list: {
      std::string out = "[";
      for (std::size_t i = 0; i < as_list().size(); ++i) {
        if (i > 0) out += ", ";
        out += as_list()[i].repr();
      }
      return out + "]";
    }
    case Kind::dict: {
      std::string out = "{";
      for (std::size_t i = 0; i < as_dict().size(); ++i) {
        if (i > 0) out += ", ";
        out += string_repr(as_dict()[i].first) + ": " + as_dict()[i].second.repr();
      }
      return out + "}";
    }
    case Kind::name_space: {
      std::string out = "<Namespace {";
      const Dict& attributes = as_namespace().attributes;
      for (std::size_t i = 0; i < attributes.size(); ++i) {
        if (i > 0) out += ", ";
        out += string_repr(attributes[i].first) + ": " + attributes[i].second.repr();
      }
      return out + "}>";
    }
  }
  return "";
}

std::string_view Value::type_name() const {
  switch (kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::list: return "list";
    case Kind::dict: return "dict";
    case Kind::name_space: return "Namespace";
  }
  return "";
}

Value Value::member(std::string_view name) const {
  const Dict* members = nullptr;
  if (kind() == Kind::dict) members = &as_dict();
  if (kind() == Kind::name_space) members = &as_namespace().attributes;
  if (members) {
    if (const Value* found = find_member(*members, name)) return *found;
  }
  return Value::undefined(std::string(name));
}

const Value* find_member(const Dict& members, std::string_view key) {
  for (const auto& [name, value] : members) {
    if (name == key) return &value;
  }
  return nullptr;
}

void set_member(Dict& members, std::string_view key, Value value) {
  for (auto& [name, existing] : members) {
    if (name == key) {
      existing = std::move(value);
      return;
    }
  }
  members.emplace_back(std::string(key), std::move(value));
}

bool equal(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::floating || b.kind() == Kind::floating) return a.as_double() == b.as_double();
    const auto as_int = [](const Value& v) { return v.kind() == Kind::boolean ? std::int64_t{v.as_bool()} : v.as_int(); };
    return as_int(a) == as_int(b);
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::undefined:
    case Kind::none: return true;
    case Kind::string: return a.as_string() == b.as_string();
    case Kind::list:
      return std::equal(a.as_list().begin(), a.as_list().end(), b.as_list().begin(), b.as_list().end(), equal);
    case Kind::dict: {
      // Python compares dicts as mappings: order does not matter.
      if (a.as_dict().size() != b.as_dict().size()) return false;
      for (const auto& [key, value] : a.as_dict()) {
        const Value other = b.member(key);
        if (other.is_undefined() || !equal(value, other)) return false;
      }
      return true;
    }
    case Kind::name_space: return &a.as_namespace() == &b.as_namespace();
    default: return false;
  }
}

std::string to_json(const Value& value, int indent, bool sort_keys) {
  std::string out;
  append_json(out, value, indent, sort_keys, 0);
  return out;
}

std::string python_float_repr(double d) {
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(result.ptr - buf));
  // sci is "-d.ddde±XX" with the shortest digits that read back as d.
  const bool negative = sci.front() == '-';
  const std::size_t e_at = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(negative ? 1 : 0, e_at - (negative ? 1 : 0))) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_at + 1 + (sci[e_at + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exponent);

  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    // Positional, as Python prints between 1e-4 and 1e16.
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exponent - 1), '0');
      out += digits;
    } else if (static_cast<std::size_t>(exponent) + 1 >= digits.size()) {
      out += digits;
      out.append(static_cast<std::size_t>(exponent) + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(exponent) + 1);
      out += '.';
      out += digits.substr(static_cast<std::size_t>(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp_text[16];
  std::snprintf(exp_text, sizeof exp_text, "e%c%02d", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
  return out + exp_text;
}

}  // namespace fathom::tokenizer::jinja
