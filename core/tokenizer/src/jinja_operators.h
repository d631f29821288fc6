// Jinja's operators on values, with Python's semantics: arithmetic, ordering,
// membership, subscripts and slices (by code point on strings), iteration.
// Failures throw TemplateError without a location; the interpreter adds it.
#pragma once

#include <stdexcept>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/jinja_value.h"

namespace fathom::tokenizer::jinja {

// An error in evaluating a template, before the interpreter says where.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws "'name' is undefined" when `value` is undefined: every use of an
// undefined value except printing, testing, comparing and iterating is an error.
void require_defined(const Value& value);

// + - * / // % ** ~ on two values.
Value arithmetic(std::string_view op, const Value& a, const Value& b);
// == != < <= > >=.
bool compare(std::string_view op, const Value& a, const Value& b);
// `needle in haystack`: substring, list item or dict key.
bool contains(const Value& haystack, const Value& needle);

// object[index]: undefined where Jinja gives undefined (missing key, index out
// of range, an object that cannot be subscripted).
Value subscript(const Value& object, const Value& index);
// object[start:stop:step] on a list or string; absent parts are undefined values.
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);

// The items a for loop visits: a list's items, a dict's keys, a string's
// characters; nothing for undefined.
std::vector<Value> iterate(const Value& iterable);

// len(): code points of a string, items of a list or dict.
std::int64_t length(const Value& value);

}  // namespace fathom::tokenizer::jinja
