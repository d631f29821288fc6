#include "jinja_builtins.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <memory>

#include "jinja_text.h"

namespace fathom::tokenizer::jinja {

namespace {

using Kind = Value::Kind;

constexpr std::array<std::string_view, 30> kFilters = {
    "abs",   "capitalize", "count", "d",       "default", "first",   "float",      "int",     "items",   "join",
    "last",  "length",     "list",  "lower",   "map",     "reject",  "rejectattr", "replace", "reverse", "safe",
    "select", "selectattr", "string", "tojson", "trim",    "upper",   "e",          "escape",  "unique",  "wordcount"};

constexpr std::array<std::string_view, 30> kTests = {
    "defined", "undefined", "none",   "boolean", "false", "true",       "integer",  "float", "number", "string",
    "mapping", "iterable",  "sequence", "odd",   "even",  "divisibleby", "eq",      "equalto", "==",  "ne",
    "!=",      "lt",        "lessthan", "le",    "gt",    "greaterthan", "ge",      "in",      "lower", "upper"};

// A positional-or-keyword integer argument.
std::int64_t integer_argument(const Value& v, std::string_view what) {
  if (v.kind() == Kind::integer) return v.as_int();
  if (v.kind() == Kind::boolean) return v.as_bool() ? 1 : 0;
  throw TemplateError(std::string(what) + " must be an integer, not " + std::string(v.type_name()));
}

const std::string& string_argument(const Value& v, std::string_view what) {
  if (!v.is_string()) throw TemplateError(std::string(what) + " must be a string, not " + std::string(v.type_name()));
  return v.as_string();
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// str.strip/lstrip/rstrip: whitespace, or any of the code points in `chars`.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  if (chars.is_undefined() || chars.is_none()) {
    const std::size_t begin = left ? lstrip_begin(s) : 0;
    if (begin == s.size()) return "";
    const std::size_t end = right ? rstrip_end(s) : s.size();
    return s.substr(begin, end - begin);
  }
  const std::string& set = string_argument(chars, "strip's chars");
  const std::vector<std::size_t> starts = code_point_starts(s);
  const auto in_set = [&](std::size_t i) { return set.find(s.substr(starts[i], starts[i + 1] - starts[i])) != std::string::npos; };
  std::size_t first = 0;
  std::size_t last = starts.size() - 1;
  while (left && first < last && in_set(first)) ++first;
  while (right && last > first && in_set(last - 1)) --last;
  return s.substr(starts[first], starts[last] - starts[first]);
}

// str.split / str.rsplit.
List split(const std::string& s, const Value& separator, std::int64_t max_split, bool from_right) {
  List parts;
  if (separator.is_undefined() || separator.is_none()) {
    // Runs of whitespace separate; leading and trailing whitespace is ignored.
    std::vector<std::pair<std::size_t, std::size_t>> words;
    std::size_t pos = 0;
    while (pos < s.size()) {
      pos += lstrip_begin(std::string_view(s).substr(pos));
      if (pos >= s.size()) break;
      std::size_t end = pos;
      while (end < s.size() && whitespace_length(std::string_view(s).substr(end)) == 0) ++end;
      words.emplace_back(pos, end);
      pos = end;
    }
    if (max_split >= 0 && static_cast<std::size_t>(max_split) < words.size()) {
      if (from_right) {
        const std::size_t keep_from = words.size() - static_cast<std::size_t>(max_split);
        const std::string head = s.substr(0, rstrip_end(std::string_view(s).substr(0, words[keep_from].first)));
        parts.emplace_back(head.substr(lstrip_begin(head)));
        for (std::size_t i = keep_from; i < words.size(); ++i) parts.emplace_back(s.substr(words[i].first, words[i].second - words[i].first));
        return parts;
      }
      for (std::size_t i = 0; i < static_cast<std::size_t>(max_split); ++i) parts.emplace_back(s.substr(words[i].first, words[i].second - words[i].first));
      // Python keeps the remainder as it is, trailing whitespace included.
      parts.emplace_back(s.substr(words[static_cast<std::size_t>(max_split)].first));
      return parts;
    }
    for (const auto& [b, e] : words) parts.emplace_back(s.substr(b, e - b));
    return parts;
  }
  const std::string& sep = string_argument(separator, "the separator");
  if (sep.empty()) throw TemplateError("empty separator");
  std::vector<std::string> pieces;
  if (!from_right) {
    std::size_t pos = 0;
    std::int64_t splits = 0;
    for (std::size_t at = s.find(sep); at != std::string::npos && (max_split < 0 || splits < max_split); at = s.find(sep, pos)) {
      pieces.push_back(s.substr(pos, at - pos));
      pos = at + sep.size();
      ++splits;
    }
    pieces.push_back(s.substr(pos));
  } else {
    std::size_t end = s.size();
    std::int64_t splits = 0;
    while (max_split < 0 || splits < max_split) {
      if (end < sep.size()) break;
      const std::size_t at = s.rfind(sep, end - sep.size());
      if (at == std::string::npos) break;
      pieces.insert(pieces.begin(), s.substr(at + sep.size(), end - at - sep.size()));
      end = at;
      ++splits;
    }
    pieces.insert(pieces.begin(), s.substr(0, end));
  }
  for (std::string& p : pieces) parts.emplace_back(std::move(p));
  return parts;
}

std::string replace_all(const std::string& s, const std::string& old, const std::string& replacement, std::int64_t count) {
  std::string out;
  std::size_t pos = 0;
  std::int64_t done = 0;
  if (old.empty()) {
    // Python inserts the replacement between every character (and at both ends).
    const std::vector<std::size_t> starts = code_point_starts(s);
    for (std::size_t i = 0; i + 1 < starts.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      out.append(s, starts[i], starts[i + 1] - starts[i]);
    }
    if (count < 0 || done < count) out += replacement;
    return out;
  }
  for (std::size_t at = s.find(old); at != std::string::npos && (count < 0 || done < count); at = s.find(old, pos)) {
    out.append(s, pos, at - pos);
    out += replacement;
    pos = at + old.size();
    ++done;
  }
  out.append(s, pos);
  return out;
}

bool starts_or_ends_with(const std::string& s, const Value& affix, bool at_start) {
  const auto one = [&](const Value& v) {
    const std::string& a = string_argument(v, at_start ? "startswith's prefix" : "endswith's suffix");
    return at_start ? s.starts_with(a) : s.ends_with(a);
  };
  if (affix.is_list()) return std::any_of(affix.as_list().begin(), affix.as_list().end(), one);
  return one(affix);
}

Value to_int(const Value& v, const Value& fallback) {
  switch (v.kind()) {
    case Kind::integer: return v;
    case Kind::boolean: return Value(std::int64_t{v.as_bool()});
    case Kind::floating:
      if (std::isfinite(v.as_double()) && std::fabs(v.as_double()) < 9.2e18) return Value(static_cast<std::int64_t>(v.as_double()));
      return fallback;
    case Kind::string: {
      const std::string text = strip(v.as_string(), Value::undefined(""), true, true);
      std::int64_t i = 0;
      const char* begin = text.data() + (text.starts_with('+') ? 1 : 0);
      if (const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), i); ec == std::errc() && end == text.data() + text.size()) {
        return Value(i);
      }
      char* end = nullptr;
      const double d = std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size()) return to_int(Value(d), fallback);
      return fallback;
    }
    default: return fallback;
  }
}

Value to_float(const Value& v, const Value& fallback) {
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    const std::string text = strip(v.as_string(), Value::undefined(""), true, true);
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) return Value(d);
  }
  return fallback;
}

Value first_or_last(const Value& v, bool first) {
  const std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined(first ? "first item" : "last item");
  return first ? items.front() : items.back();
}

// select / reject / selectattr / rejectattr: the test named by the first
// remaining argument (truthiness when there is none) on each item or attribute.
Value filter_items(const Value& operand, const Arguments& args, bool by_attribute, bool keep_when) {
  std::size_t next = 0;
  std::string attribute;
  if (by_attribute) attribute = string_argument(args.get(next++, "attribute"), "the attribute");
  std::string test;
  if (next < args.positional.size()) test = string_argument(args.positional[next++], "the test name");
  if (!test.empty() && !is_test(test)) throw TemplateError("test '" + test + "' is not supported");
  Arguments test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(std::min(next, args.positional.size())),
                              args.positional.end());
  List kept;
  for (const Value& item : iterate(operand)) {
    const Value subject = by_attribute ? item.member(attribute) : item;
    const bool passed = test.empty() ? subject.truthy() : apply_test(test, subject, test_args);
    if (passed == keep_when) kept.push_back(item);
  }
  return Value(std::move(kept));
}

Value map_items(const Value& operand, const Arguments& args) {
  List out;
  const Value attribute = args.get(99, "attribute");
  if (!attribute.is_undefined()) {
    const std::string& name = string_argument(attribute, "map's attribute");
    const Value fallback = args.get(99, "default");
    for (const Value& item : iterate(operand)) {
      Value v = item.member(name);
      out.push_back(v.is_undefined() && !fallback.is_undefined() ? fallback : v);
    }
    return Value(std::move(out));
  }
  if (args.positional.empty()) throw TemplateError("map needs a filter name or attribute=");
  const std::string& filter = string_argument(args.positional[0], "map's filter name");
  if (!is_filter(filter)) throw TemplateError("filter '" + filter + "' is not supported");
  Arguments rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keywords = args.keywords;
  for (const Value& item : iterate(operand)) out.push_back(apply_filter(filter, item, rest));
  return Value(std::move(out));
}

}  // namespace

Value Arguments::get(std::size_t index, std::string_view name, Value fallback) const {
  if (index < positional.size()) return positional[index];
  if (const Value* found = find_member(keywords, name)) return *found;
  return fallback;
}

void Arguments::check(std::string_view function, std::initializer_list<std::string_view> names) const {
  if (positional.size() > names.size()) {
    throw TemplateError(std::string(function) + " takes at most " + std::to_string(names.size()) + " arguments (" +
                        std::to_string(positional.size()) + " given)");
  }
  for (const auto& [key, value] : keywords) {
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      throw TemplateError(std::string(function) + " got an unexpected keyword argument '" + key + "'");
    }
  }
}

bool is_filter(std::string_view name) { return std::find(kFilters.begin(), kFilters.end(), name) != kFilters.end(); }
bool is_test(std::string_view name) { return std::find(kTests.begin(), kTests.end(), name) != kTests.end(); }

Value apply_filter(std::string_view name, const Value& operand, const Arguments& args) {
  if (name == "default" || name == "d") {
    args.check(name, {"default_value", "boolean"});
    const bool boolean = args.get(1, "boolean", Value(false)).truthy();
    if (operand.is_undefined() || (boolean && !operand.truthy())) return args.get(0, "default_value", Value(""));
    return operand;
  }
  if (name == "length" || name == "count") {
    args.check(name, {});
    return Value(length(operand));
  }
  if (name == "list") {
    args.check(name, {});
    return Value(iterate(operand));
  }
  if (name == "first" || name == "last") {
    args.check(name, {});
    return first_or_last(operand, name == "first");
  }
  if (name == "items") {
    args.check(name, {});
    List pairs;
    if (operand.is_dict()) {
      for (const auto& [key, value] : operand.as_dict()) pairs.emplace_back(List{Value(key), value});
    } else if (!operand.is_undefined()) {
      throw TemplateError("items filter: expected a mapping, got " + std::string(operand.type_name()));
    }
    return Value(std::move(pairs));
  }
  if (name == "tojson") {
    args.check(name, {"ensure_ascii", "indent", "separators", "sort_keys"});
    if (args.get(0, "ensure_ascii", Value(false)).truthy()) throw TemplateError("tojson with ensure_ascii=true is not supported");
    if (!args.get(2, "separators", Value(None{})).is_none()) throw TemplateError("tojson with separators is not supported");
    const Value indent = args.get(1, "indent", Value(None{}));
    return Value(to_json(operand, indent.is_none() ? -1 : static_cast<int>(integer_argument(indent, "indent")),
                         args.get(3, "sort_keys", Value(false)).truthy()));
  }
  if (name == "map") return map_items(operand, args);
  if (name == "select" || name == "reject") return filter_items(operand, args, false, name == "select");
  if (name == "selectattr" || name == "rejectattr") return filter_items(operand, args, true, name == "selectattr");
  if (name == "join") {
    args.check(name, {"d", "attribute"});
    const Value separator = args.get(0, "d", Value(""));
    const Value attribute = args.get(1, "attribute", Value(None{}));
    std::string out;
    bool first = true;
    for (const Value& item : iterate(operand)) {
      if (!first) out += separator.str();
      first = false;
      out += (attribute.is_none() ? item : subscript(item, attribute)).str();
    }
    return Value(std::move(out));
  }
  if (name == "safe" || name == "e" || name == "escape") {
    // No autoescaping in chat templates: the text passes through (escape
    // would HTML-escape, which no chat format wants; it is refused below).
    if (name != "safe") throw TemplateError("the escape filter is not supported");
    return operand;
  }
  if (name == "string") return Value(operand.str());
  if (name == "int") return to_int(operand, args.get(0, "default", Value(std::int64_t{0})));
  if (name == "float") return to_float(operand, args.get(0, "default", Value(0.0)));
  if (name == "abs") {
    if (operand.kind() == Kind::integer) {
      if (operand.as_int() == INT64_MIN) throw TemplateError("integer arithmetic overflows 64 bits");
      return Value(operand.as_int() < 0 ? -operand.as_int() : operand.as_int());
    }
    if (operand.is_number()) return Value(std::fabs(operand.as_double()));
    throw TemplateError("bad operand type for abs(): '" + std::string(operand.type_name()) + "'");
  }
  if (name == "reverse") {
    if (operand.is_string()) return slice(operand, Value(None{}), Value(None{}), Value(std::int64_t{-1}));
    std::vector<Value> items = iterate(operand);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "unique") {
    List out;
    for (const Value& item : iterate(operand)) {
      if (std::none_of(out.begin(), out.end(), [&](const Value& seen) { return equal(seen, item); })) out.push_back(item);
    }
    return Value(std::move(out));
  }
  // The remaining filters work on text; Jinja converts the operand with str().
  require_defined(operand);
  const std::string text = operand.str();
  if (name == "trim") return Value(strip(text, args.get(0, "chars"), true, true));
  if (name == "upper") return Value(ascii_upper(text));
  if (name == "lower") return Value(ascii_lower(text));
  if (name == "capitalize") {
    std::string out = ascii_lower(text);
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return Value(std::move(out));
  }
  if (name == "replace") {
    args.check(name, {"old", "new", "count"});
    const Value count = args.get(2, "count", Value(None{}));
    return Value(replace_all(text, args.get(0, "old").str(), args.get(1, "new").str(),
                             count.is_none() ? -1 : integer_argument(count, "count")));
  }
  if (name == "wordcount") return Value(static_cast<std::int64_t>(split(text, Value(None{}), -1, false).size()));
  throw TemplateError("filter '" + std::string(name) + "' is not supported");
}

bool apply_test(std::string_view name, const Value& v, const Arguments& args) {
  const Value other = args.get(0, "value");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind() == Kind::boolean;
  if (name == "true") return v.kind() == Kind::boolean && v.as_bool();
  if (name == "false") return v.kind() == Kind::boolean && !v.as_bool();
  if (name == "integer") return v.kind() == Kind::integer;
  if (name == "float") return v.kind() == Kind::floating;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable" || name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "odd" || name == "even") {
    const std::int64_t i = integer_argument(v, "the operand of " + std::string(name));
    return (i % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const std::int64_t d = integer_argument(other, "divisibleby's argument");
    if (d == 0) throw TemplateError("integer division or modulo by zero");
    return integer_argument(v, "the operand of divisibleby") % d == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equal(v, other);
  if (name == "ne" || name == "!=") return !equal(v, other);
  if (name == "lt" || name == "lessthan") return compare("<", v, other);
  if (name == "le") return compare("<=", v, other);
  if (name == "gt" || name == "greaterthan") return compare(">", v, other);
  if (name == "ge") return compare(">=", v, other);
  if (name == "in") return contains(other, v);
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    const std::string& s = v.as_string();
    return s == (name == "lower" ? ascii_lower(s) : ascii_upper(s));
  }
  throw TemplateError("test '" + std::string(name) + "' is not supported");
}

std::optional<Value> call_method(const Value& object, std::string_view name, const Arguments& args) {
  if (object.is_string()) {
    const std::string& s = object.as_string();
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      args.check(name, {"chars"});
      return Value(strip(s, args.get(0, "chars"), name != "rstrip", name != "lstrip"));
    }
    if (name == "split" || name == "rsplit") {
      args.check(name, {"sep", "maxsplit"});
      return Value(split(s, args.get(0, "sep"), integer_argument(args.get(1, "maxsplit", Value(std::int64_t{-1})), "maxsplit"),
                         name == "rsplit"));
    }
    if (name == "startswith" || name == "endswith") {
      args.check(name, {"affix"});
      return Value(starts_or_ends_with(s, args.get(0, "affix"), name == "startswith"));
    }
    if (name == "upper") return Value(ascii_upper(s));
    if (name == "lower") return Value(ascii_lower(s));
    if (name == "replace") {
      args.check(name, {"old", "new", "count"});
      return Value(replace_all(s, string_argument(args.get(0, "old"), "replace's old"),
                               string_argument(args.get(1, "new"), "replace's new"),
                               integer_argument(args.get(2, "count", Value(std::int64_t{-1})), "count")));
    }
    if (name == "find") {
      args.check(name, {"sub"});
      const std::size_t at = s.find(string_argument(args.get(0, "sub"), "find's argument"));
      if (at == std::string::npos) return Value(std::int64_t{-1});
      return Value(static_cast<std::int64_t>(code_point_starts(s.substr(0, at)).size()) - 1);
    }
    if (name == "join") {
      args.check(name, {"iterable"});
      std::string out;
      bool first = true;
      for (const Value& item : iterate(args.get(0, "iterable"))) {
        if (!first) out += s;
        first = false;
        out += string_argument(item, "join's items");
      }
      return Value(std::move(out));
    }
    return std::nullopt;
  }
  if (object.is_dict()) {
    const Dict& dict = object.as_dict();
    if (name == "items" || name == "keys" || name == "values") {
      args.check(name, {});
      List out;
      for (const auto& [key, value] : dict) {
        if (name == "items") out.emplace_back(List{Value(key), value});
        else out.push_back(name == "keys" ? Value(key) : value);
      }
      return Value(std::move(out));
    }
    if (name == "get") {
      args.check(name, {"key", "default"});
      const Value key = args.get(0, "key");
      const Value found = key.is_string() ? object.member(key.as_string()) : Value::undefined("");
      return found.is_undefined() ? args.get(1, "default", Value(None{})) : found;
    }
  }
  return std::nullopt;
}

std::optional<Value> call_global(std::string_view name, const Arguments& args) {
  if (name == "namespace" || name == "dict") {
    Dict attributes;
    if (!args.positional.empty()) {
      if (args.positional.size() > 1 || !args.positional[0].is_dict()) {
        throw TemplateError(std::string(name) + "() takes keyword arguments or one mapping");
      }
      attributes = args.positional[0].as_dict();
    }
    for (const auto& [key, value] : args.keywords) set_member(attributes, key, value);
    if (name == "dict") return Value(std::move(attributes));
    return Value(std::make_shared<Namespace>(Namespace{std::move(attributes)}));
  }
  if (name == "raise_exception") {
    args.check(name, {"message"});
    throw RaisedByTemplate(args.get(0, "message").str());
  }
  if (name == "range") {
    if (args.positional.empty() || args.positional.size() > 3 || !args.keywords.empty()) {
      throw TemplateError("range expects 1 to 3 integer arguments");
    }
    std::int64_t start = 0;
    std::int64_t stop = 0;
    std::int64_t step = 1;
    if (args.positional.size() == 1) {
      stop = integer_argument(args.positional[0], "range's stop");
    } else {
      start = integer_argument(args.positional[0], "range's start");
      stop = integer_argument(args.positional[1], "range's stop");
      if (args.positional.size() == 3) step = integer_argument(args.positional[2], "range's step");
    }
    if (step == 0) throw TemplateError("range() arg 3 must not be zero");
    List out;
    // Jinja's sandbox refuses ranges above 100,000 items; so does Fathom.
    for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= 100000) throw TemplateError("range too big (more than 100000 items)");
      out.emplace_back(i);
    }
    return Value(std::move(out));
  }
  if (name == "strftime_now") {
    args.check(name, {"format"});
    const std::string& format = string_argument(args.get(0, "format"), "strftime_now's format");
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buffer[256];
    const std::size_t n = std::strftime(buffer, sizeof buffer, format.c_str(), &local);
    return Value(std::string(buffer, n));
  }
  return std::nullopt;
}

}  // namespace fathom::tokenizer::jinja
