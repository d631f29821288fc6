// Jinja's grammar, for the subset chat templates are written in: text and
// {{ expressions }}; if/elif/else, for (with loop, else, an if filter, and
// break/continue), set (of a name, a namespace attribute, or a block), and
// transformers' generation block; expressions with Python's literals, lists,
// dicts, attributes, subscripts and slices, calls, filters, tests, and Jinja's
// operators at Jinja's precedence.
//
// Everything else (macros, includes, inheritance, raw, call and filter blocks,
// ...) is refused at parse time with the line and column, as are unknown filters
// and tests: a template Fathom cannot run fails when the model loads, not on
// the first request.
#pragma once

#include <string>
#include <string_view>

#include "jinja_ast.h"

namespace fathom::tokenizer::jinja {

Body parse(std::string_view source, const std::string& where);

}  // namespace fathom::tokenizer::jinja
