#include "jinja_operators.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "jinja_text.h"

namespace fathom::tokenizer::jinja {

namespace {

using Kind = Value::Kind;

[[noreturn]] void unsupported_operands(std::string_view op, const Value& a, const Value& b) {
  throw TemplateError("unsupported operand types for " + std::string(op) + ": '" + std::string(a.type_name()) +
                      "' and '" + std::string(b.type_name()) + "'");
}

bool is_integral(const Value& v) { return v.kind() == Kind::integer || v.kind() == Kind::boolean; }
std::int64_t integral(const Value& v) { return v.kind() == Kind::boolean ? std::int64_t{v.as_bool()} : v.as_int(); }

void check_overflow(bool overflowed) {
  if (overflowed) throw TemplateError("integer arithmetic overflows 64 bits");
}

// Python's floor division and modulo: the quotient rounds down, the remainder
// takes the divisor's sign.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  if (b == -1 && a == std::numeric_limits<std::int64_t>::min()) throw TemplateError("integer arithmetic overflows 64 bits");
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  if (b == -1) return 0;
  std::int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

Value numeric(std::string_view op, const Value& a, const Value& b) {
  if (is_integral(a) && is_integral(b)) {
    const std::int64_t x = integral(a);
    const std::int64_t y = integral(b);
    std::int64_t r = 0;
    if (op == "+" || op == "-" || op == "*") {
      check_overflow(op == "+"   ? __builtin_add_overflow(x, y, &r)
                     : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                 : __builtin_mul_overflow(x, y, &r));
      return Value(r);
    }
    if (op == "/") {
      if (y == 0) throw TemplateError("division by zero");
      return Value(static_cast<double>(x) / static_cast<double>(y));
    }
    if (op == "//" || op == "%") {
      if (y == 0) throw TemplateError("integer division or modulo by zero");
      return Value(op == "//" ? floor_div(x, y) : floor_mod(x, y));
    }
    if (op == "**") {
      if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
      std::int64_t result = 1;
      for (std::int64_t i = 0; i < y; ++i) check_overflow(__builtin_mul_overflow(result, x, &result));
      return Value(result);
    }
  }
  const double x = a.as_double();
  const double y = b.as_double();
  if (op == "+") return Value(x + y);
  if (op == "-") return Value(x - y);
  if (op == "*") return Value(x * y);
  if (op == "**") return Value(std::pow(x, y));
  if (y == 0) throw TemplateError("float division by zero");
  if (op == "/") return Value(x / y);
  const double mod = std::fmod(x, y);
  const double adjusted = (mod != 0 && ((mod < 0) != (y < 0))) ? mod + y : mod;
  if (op == "%") return Value(adjusted);
  return Value(std::floor(x / y));  // "//"
}

std::string repeat(const std::string& s, std::int64_t times) {
  std::string out;
  if (times <= 0) return out;
  if (s.size() * static_cast<std::size_t>(times) > (std::size_t{1} << 24)) throw TemplateError("string repetition too large");
  for (std::int64_t i = 0; i < times; ++i) out += s;
  return out;
}

// Python's ordering: numbers with numbers, strings with strings (code point
// order, which UTF-8 byte order preserves), lists item by item.
int order(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (is_integral(a) && is_integral(b)) return integral(a) < integral(b) ? -1 : integral(a) > integral(b) ? 1 : 0;
    const double x = a.as_double();
    const double y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.as_string().compare(b.as_string()) < 0 ? -1 : a.as_string() == b.as_string() ? 0 : 1;
  if (a.is_list() && b.is_list()) {
    const List& x = a.as_list();
    const List& y = b.as_list();
    for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
      if (!equal(x[i], y[i])) return order(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw TemplateError("'<' not supported between instances of '" + std::string(a.type_name()) + "' and '" +
                      std::string(b.type_name()) + "'");
}

// Python's slice.indices(): the start, stop and step a slice means for a
// sequence of `size` items.
struct SliceIndices {
  std::int64_t start, stop, step;
};
SliceIndices slice_indices(std::int64_t size, const Value& start, const Value& stop, const Value& step) {
  const auto bound = [](const Value& v, const char* what) -> std::optional<std::int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!is_integral(v)) throw TemplateError(std::string("slice ") + what + " must be an integer or None");
    return integral(v);
  };
  const std::int64_t s = bound(step, "step").value_or(1);
  if (s == 0) throw TemplateError("slice step cannot be zero");
  const auto clamp = [&](std::optional<std::int64_t> v, std::int64_t fallback) {
    if (!v) return fallback;
    std::int64_t i = *v;
    if (i < 0) i += size;
    if (s > 0) return std::clamp<std::int64_t>(i, 0, size);
    return std::clamp<std::int64_t>(i, -1, size - 1);
  };
  return {clamp(bound(start, "start"), s > 0 ? 0 : size - 1), clamp(bound(stop, "stop"), s > 0 ? size : -1), s};
}

std::optional<std::int64_t> normalise_index(const Value& index, std::int64_t size) {
  if (!is_integral(index)) return std::nullopt;
  std::int64_t i = integral(index);
  if (i < 0) i += size;
  if (i < 0 || i >= size) return std::nullopt;
  return i;
}

}  // namespace

void require_defined(const Value& value) {
  if (value.is_undefined()) throw TemplateError("'" + value.undefined_name() + "' is undefined");
}

Value arithmetic(std::string_view op, const Value& a, const Value& b) {
  if (op == "~") {
    return Value(a.str() + b.str());
  }
  require_defined(a);
  require_defined(b);
  if (a.is_number() && b.is_number()) return numeric(op, a, b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list()) {
      List joined = a.as_list();
      joined.insert(joined.end(), b.as_list().begin(), b.as_list().end());
      return Value(std::move(joined));
    }
  }
  if (op == "*") {
    if (a.is_string() && is_integral(b)) return Value(repeat(a.as_string(), integral(b)));
    if (is_integral(a) && b.is_string()) return Value(repeat(b.as_string(), integral(a)));
  }
  unsupported_operands(op, a, b);
}

bool compare(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return equal(a, b);
  if (op == "!=") return !equal(a, b);
  require_defined(a);
  require_defined(b);
  const int o = order(a, b);
  if (op == "<") return o < 0;
  if (op == "<=") return o <= 0;
  if (op == ">") return o > 0;
  return o >= 0;  // ">="
}

bool contains(const Value& haystack, const Value& needle) {
  switch (haystack.kind()) {
    case Kind::undefined: return false;  // an undefined value iterates as empty
    case Kind::string:
      if (!needle.is_string()) {
        throw TemplateError("'in <string>' requires string as left operand, not " + std::string(needle.type_name()));
      }
      return haystack.as_string().find(needle.as_string()) != std::string::npos;
    case Kind::list:
      return std::any_of(haystack.as_list().begin(), haystack.as_list().end(),
                         [&](const Value& item) { return equal(item, needle); });
    case Kind::dict: return needle.is_string() && !haystack.member(needle.as_string()).is_undefined();
    default: throw TemplateError("argument of type '" + std::string(haystack.type_name()) + "' is not iterable");
  }
}

Value subscript(const Value& object, const Value& index) {
  require_defined(object);
  const std::string index_name = index.is_string() ? index.as_string() : index.repr();
  switch (object.kind()) {
    case Kind::list: {
      const List& list = object.as_list();
      if (const auto i = normalise_index(index, static_cast<std::int64_t>(list.size()))) return list[static_cast<std::size_t>(*i)];
      break;
    }
    case Kind::string: {
      const std::string& s = object.as_string();
      const std::vector<std::size_t> starts = code_point_starts(s);
      if (const auto i = normalise_index(index, static_cast<std::int64_t>(starts.size()) - 1)) {
        const auto at = static_cast<std::size_t>(*i);
        return Value(s.substr(starts[at], starts[at + 1] - starts[at]));
      }
      break;
    }
    case Kind::dict:
    case Kind::name_space:
      if (index.is_string()) return object.member(index.as_string());
      break;
    default: break;
  }
  return Value::undefined(object.repr() + "[" + index_name + "]");
}

Value slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  require_defined(object);
  if (object.is_list()) {
    const List& list = object.as_list();
    const SliceIndices s = slice_indices(static_cast<std::int64_t>(list.size()), start, stop, step);
    List out;
    for (std::int64_t i = s.start; s.step > 0 ? i < s.stop : i > s.stop; i += s.step) out.push_back(list[static_cast<std::size_t>(i)]);
    return Value(std::move(out));
  }
  if (object.is_string()) {
    const std::string& text = object.as_string();
    const std::vector<std::size_t> starts = code_point_starts(text);
    const SliceIndices s = slice_indices(static_cast<std::int64_t>(starts.size()) - 1, start, stop, step);
    std::string out;
    for (std::int64_t i = s.start; s.step > 0 ? i < s.stop : i > s.stop; i += s.step) {
      const auto at = static_cast<std::size_t>(i);
      out.append(text, starts[at], starts[at + 1] - starts[at]);
    }
    return Value(std::move(out));
  }
  throw TemplateError("'" + std::string(object.type_name()) + "' object is not subscriptable");
}

std::vector<Value> iterate(const Value& iterable) {
  switch (iterable.kind()) {
    case Kind::undefined: return {};
    case Kind::list: return iterable.as_list();
    case Kind::dict: {
      std::vector<Value> keys;
      for (const auto& [key, value] : iterable.as_dict()) keys.emplace_back(key);
      return keys;
    }
    case Kind::string: {
      const std::string& s = iterable.as_string();
      const std::vector<std::size_t> starts = code_point_starts(s);
      std::vector<Value> characters;
      for (std::size_t i = 0; i + 1 < starts.size(); ++i) characters.emplace_back(s.substr(starts[i], starts[i + 1] - starts[i]));
      return characters;
    }
    default: throw TemplateError("'" + std::string(iterable.type_name()) + "' object is not iterable");
  }
}

std::int64_t length(const Value& value) {
  switch (value.kind()) {
    case Kind::undefined: return 0;
    case Kind::string: return static_cast<std::int64_t>(code_point_starts(value.as_string()).size()) - 1;
    case Kind::list: return static_cast<std::int64_t>(value.as_list().size());
    case Kind::dict: return static_cast<std::int64_t>(value.as_dict().size());
    default: throw TemplateError("object of type '" + std::string(value.type_name()) + "' has no len()");
  }
}

}  // namespace fathom::tokenizer::jinja
