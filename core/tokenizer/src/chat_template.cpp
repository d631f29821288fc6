#include "fathom/tokenizer/chat_template.h"

#include <cstdio>

#include "fathom/core/error.h"

namespace fathom::tokenizer {

namespace {

// fingerprint() of the chat_template in DeepSeek-V3's tokenizer_config.json (2301 bytes).
constexpr std::uint64_t kDeepSeekV3Fingerprint = 0xebe3604156dc466aull;

// The literal markers of the DeepSeek format ('｜' is U+FF5C, '▁' is U+2581).
constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kEndOfSentence = "<｜end▁of▁sentence｜>";
constexpr std::string_view kToolCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kToolCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kToolCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kToolCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kToolSep = "<｜tool▁sep｜>";
constexpr std::string_view kToolOutputsBegin = "<｜tool▁outputs▁begin｜>";
constexpr std::string_view kToolOutputsEnd = "<｜tool▁outputs▁end｜>";
constexpr std::string_view kToolOutputBegin = "<｜tool▁output▁begin｜>";
constexpr std::string_view kToolOutputEnd = "<｜tool▁output▁end｜>";

// The template concatenates content; a missing one is an error there too.
const std::string& content_of(const ChatMessage& message) {
  if (!message.content) throw invalid_argument("chat template: a '" + message.role + "' message has no content");
  return *message.content;
}

void append_tool_call(std::string& out, const ToolCall& call) {
  out += kToolCallBegin;
  out += call.type;
  out += kToolSep;
  out += call.name;
  out += "\n```json\n";
  out += call.arguments;
  out += "\n```";
  out += kToolCallEnd;
}

// DeepSeek-V3's template, statement by statement. Its state lives in a Jinja
// namespace that persists across the whole conversation; two flags are never
// reset, and the rendering depends on that:
//  - is_first: set by the first tool call of the conversation. Every later call,
//    even the first call of a later assistant turn, is rendered as a
//    continuation and closes the tool-calls block and the turn after itself; a
//    turn with a single call is never closed.
//  - is_output_first: set by the first tool output of the conversation; later
//    outputs, in any turn, start with "\n" and no outputs-begin marker.
std::string render_deepseek_v3(std::span<const ChatMessage> messages, bool add_generation_prompt,
                               const std::string& bos_token) {
  std::string out = bos_token;

  // All system turns, wherever they are, form one prompt before the first turn.
  bool first_system = true;
  for (const ChatMessage& message : messages) {
    if (message.role != "system") continue;
    if (!first_system) out += "\n\n";
    out += content_of(message);
    first_system = false;
  }

  bool is_first = false;
  bool is_tool = false;
  bool is_output_first = true;
  for (const ChatMessage& message : messages) {
    if (message.role == "user") {
      is_tool = false;
      out += kUser;
      out += content_of(message);
    } else if (message.role == "assistant" && !message.content) {
      is_tool = false;
      for (const ToolCall& call : message.tool_calls) {
        if (!is_first) {
          out += kAssistant;
          out += kToolCallsBegin;
          append_tool_call(out, call);
          is_first = true;
        } else {
          out += "\n";
          append_tool_call(out, call);
          out += kToolCallsEnd;
          out += kEndOfSentence;
        }
      }
    } else if (message.role == "assistant") {
      // The answer after tool outputs closes the outputs block instead of opening a turn.
      out += is_tool ? kToolOutputsEnd : kAssistant;
      out += *message.content;
      out += kEndOfSentence;
      is_tool = false;
    } else if (message.role == "tool") {
      is_tool = true;
      if (is_output_first) {
        out += kToolOutputsBegin;
        is_output_first = false;
      } else {
        out += "\n";
      }
      out += kToolOutputBegin;
      out += content_of(message);
      out += kToolOutputEnd;
    }
  }
  if (is_tool) out += kToolOutputsEnd;
  if (add_generation_prompt && !is_tool) out += kAssistant;
  return out;
}

}  // namespace

std::uint64_t ChatTemplate::fingerprint(std::string_view source) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : source) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

ChatTemplate ChatTemplate::from_source(std::string_view source, std::string bos_token, const std::string& where) {
  const std::uint64_t print = fingerprint(source);
  if (print == kDeepSeekV3Fingerprint) return ChatTemplate(ChatFormat::deepseek_v3, std::move(bos_token));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(print));
  throw unsupported(where + ": not a chat template Fathom knows (fingerprint " + hex +
                    "); Fathom renders DeepSeek-V3's template natively and does not run arbitrary Jinja");
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  switch (format_) {
    case ChatFormat::deepseek_v3: return render_deepseek_v3(messages, add_generation_prompt, bos_token_);
  }
  throw internal_error("ChatTemplate: unknown format");
}

}  // namespace fathom::tokenizer
