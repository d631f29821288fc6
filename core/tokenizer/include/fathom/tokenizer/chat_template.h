// Renders a conversation into the prompt text a model expects, by running the
// chat template its tokenizer_config.json (or chat_template.jinja) ships, as
// transformers' apply_chat_template does: the messages, add_generation_prompt,
// the special tokens and any extra variables (tools, a thinking switch) are
// the template's globals.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "fathom/tokenizer/chat_messages.h"
#include "fathom/tokenizer/jinja_template.h"

namespace fathom::tokenizer {

class ChatTemplate {
 public:
  // Parses `source` (a chat_template text). `where` names it in errors: a
  // template using Jinja that Fathom does not run is refused here (unsupported,
  // with line and column), not at the first request.
  // `special_tokens` maps bos_token, eos_token, ... to their text.
  static ChatTemplate from_source(std::string_view source, jinja::Dict special_tokens, const std::string& where);

  // `extra` adds globals (or replaces them, as keyword arguments to
  // apply_chat_template do). Throws invalid_argument when the template fails
  // on this conversation, naming where in the template and why.
  std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt,
                     const jinja::Dict& extra = {}) const;

  // Whether the template reads this variable at all ("tools", "thinking").
  bool reads(std::string_view variable) const { return template_.reads_variable(variable); }

 private:
  ChatTemplate(jinja::Template t, jinja::Dict special_tokens)
      : template_(std::move(t)), special_tokens_(std::move(special_tokens)) {}

  jinja::Template template_;
  jinja::Dict special_tokens_;
};

}  // namespace fathom::tokenizer
