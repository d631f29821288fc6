// Renders a conversation into the prompt text a DeepSeek model expects.
//
// Fathom does not run Jinja. It recognises the chat_template of
// tokenizer_config.json by fingerprint and renders that format natively,
// byte for byte as Hugging Face's Jinja settings would, quirks included; a
// template it does not know is refused rather than approximated.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "fathom/tokenizer/chat_messages.h"

namespace fathom::tokenizer {

enum class ChatFormat {
  deepseek_v3,  // DeepSeek-V3's tokenizer_config.json chat_template
};

class ChatTemplate {
 public:
  // Identifies `source` (a chat_template text). `where` names it in the error
  // (unsupported) when it is not a template Fathom renders.
  static ChatTemplate from_source(std::string_view source, std::string bos_token, const std::string& where);

  ChatTemplate(ChatFormat format, std::string bos_token) : format_(format), bos_token_(std::move(bos_token)) {}

  std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  ChatFormat format() const { return format_; }

  // 64-bit FNV-1a of a template's text: how templates are recognised.
  static std::uint64_t fingerprint(std::string_view source);

 private:
  ChatFormat format_;
  std::string bos_token_;
};

}  // namespace fathom::tokenizer
