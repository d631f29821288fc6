// A Jinja2 template as Hugging Face runs chat templates, interpreted natively.
//
// Model repositories ship their prompt format as a Jinja2 program
// (tokenizer_config.json's chat_template, or chat_template.jinja), and every
// DeepSeek release changed it: V2's "User: ...", V3's markers and tool calls,
// R1's <think> handling, V3.1's thinking switch. Running the template itself,
// with Jinja2's semantics under transformers' settings (trim_blocks,
// lstrip_blocks, loop controls, its tojson and raise_exception), renders each
// of them byte for byte, and the next one too, without Fathom knowing it.
//
// Fathom implements the part of Jinja2 chat templates use (see
// jinja_parser.h); a template using more is refused when it is parsed, naming
// the line and column, never rendered approximately.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/jinja_value.h"

namespace fathom::tokenizer::jinja {

struct Node;

class Template {
 public:
  // Parses `source`; `where` names it in every error ("model/tokenizer_config.json:
  // chat_template"). Throws invalid_argument for a syntax error and unsupported
  // for a construct Fathom does not run, both naming line and column.
  static Template parse(std::string_view source, std::string where);

  // Renders with `variables` as the template's globals. Throws invalid_argument
  // naming the line and column where evaluation failed (an undefined value
  // used, a type error, the template's own raise_exception), or
  // resource_exhausted when the template runs past a fixed step budget.
  std::string render(const Dict& variables) const;

  // Whether the template reads a variable of this name anywhere (for example
  // "tools": a template that never reads it cannot present tools to the model).
  bool reads_variable(std::string_view name) const;

 private:
  Template(std::shared_ptr<const std::vector<Node>> body, std::string where)
      : body_(std::move(body)), where_(std::move(where)) {}

  std::shared_ptr<const std::vector<Node>> body_;
  std::string where_;
};

}  // namespace fathom::tokenizer::jinja
