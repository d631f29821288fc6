// What a chat template can call: Jinja's filters and tests that chat templates
// use, the str/dict methods they call (Jinja hands attribute calls to Python),
// and the globals Hugging Face provides (namespace, raise_exception, range,
// strftime_now). Failures throw TemplateError; the interpreter adds where.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fathom/tokenizer/jinja_value.h"
#include "jinja_operators.h"

namespace fathom::tokenizer::jinja {

struct Arguments {
  std::vector<Value> positional;
  Dict keywords;

  // The argument for parameter `index` (0-based after the operand) named
  // `name`, or `fallback` when neither form was given.
  Value get(std::size_t index, std::string_view name, Value fallback = Value::undefined("")) const;
  // Refuses more positional arguments than `names` or a keyword not in `names`.
  void check(std::string_view function, std::initializer_list<std::string_view> names) const;
};

bool is_filter(std::string_view name);
bool is_test(std::string_view name);

Value apply_filter(std::string_view name, const Value& operand, const Arguments& args);
bool apply_test(std::string_view name, const Value& operand, const Arguments& args);

// object.name(args) for the methods of str and dict that templates call;
// nullopt when `object` has no such method.
std::optional<Value> call_method(const Value& object, std::string_view name, const Arguments& args);

// A global function (namespace, raise_exception, range, dict, strftime_now);
// nullopt when `name` is not one. raise_exception throws RaisedByTemplate.
std::optional<Value> call_global(std::string_view name, const Arguments& args);

// What raise_exception(message) throws: the template's own refusal.
class RaisedByTemplate : public TemplateError {
 public:
  using TemplateError::TemplateError;
};

}  // namespace fathom::tokenizer::jinja
