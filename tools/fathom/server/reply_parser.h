// Splits a chat reply into the parts the OpenAI API carries apart: the
// reasoning a thinking model writes before its answer (`reasoning_content`,
// as DeepSeek's API and vLLM's deepseek_r1 reasoning parser return it), the
// answer (`content`), and the tool calls it makes (`tool_calls`).
//
// DeepSeek's formats, as their chat templates render them back:
//  - reasoning: "<think>" (often already in the prompt) ... "</think>", then the answer;
//  - tool calls: <｜tool▁calls▁begin｜> then per call <｜tool▁call▁begin｜> ... <｜tool▁call▁end｜>,
//    where a call is "function<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```" (V3, R1) or
//    "NAME<｜tool▁sep｜>ARGUMENTS" (V3.1), then <｜tool▁calls▁end｜>.
//
// The parser is incremental, for streams: feed() releases what can no longer
// turn into a marker, holding back a tail that could still be the start of
// one; a call's name goes out as soon as it is known and its arguments as they
// come. finish() releases the rest. Fed whole, it gives the non-streamed reply.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/tool_call.h"

namespace fathom::server {

struct ReplyParts {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> calls;  // pieces of the tool calls (tool_call.h)
};

// Where a reply's reasoning starts.
enum class Reasoning {
  none,        // not parsed: all content
  if_opened,   // reasoning only if the reply opens with "<think>"
  open,        // the prompt ended with "<think>": the reply starts inside the reasoning
};

class ReplyParser {
 public:
  // `tool_calls`: the reply may end in tool calls.
  ReplyParser(Reasoning reasoning, bool tool_calls);

  ReplyParts feed(std::string_view text);

  struct Final {
    ReplyParts rest;
    bool called = false;  // the reply made tool calls
  };
  // A reply that never closes its reasoning is all reasoning. A call cut off
  // (max_tokens) keeps the arguments it got; tool-call markers before any call's
  // name are content, as the model wrote them.
  Final finish();

 private:
  enum class Phase { reasoning, content, tool_calls };
  // Inside the tool calls: between two calls, before a call's <｜tool▁sep｜>, in
  // V3's name (up to its json fence), in the arguments, or after <｜tool▁calls▁end｜>.
  enum class CallPhase { between, header, fenced_name, arguments, done };
  ReplyParts release(bool final);
  void release_calls(bool final, ReplyParts& out);
  void begin_call(std::string name, ReplyParts& out);
  void add_arguments(std::string_view text, ReplyParts& out);

  Phase phase_;
  bool tool_calls_;
  bool needs_opening_;    // Reasoning::if_opened: the reply must open with "<think>"
  bool at_start_ = true;  // the reply's opening is not yet known (a leading "<think>" may follow)
  std::string pending_;
  CallPhase call_phase_ = CallPhase::between;
  bool fenced_ = false;    // V3's format: the arguments end with a closing code fence
  size_t calls_ = 0;       // calls begun
  std::string raw_calls_;  // the text from <｜tool▁calls▁begin｜> on, while no call has begun
};

// The marker strings, for tests and the response builder.
inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";
inline constexpr std::string_view kToolCallsBegin = "<｜tool▁calls▁begin｜>";
inline constexpr std::string_view kToolCallsEnd = "<｜tool▁calls▁end｜>";
inline constexpr std::string_view kToolCallBegin = "<｜tool▁call▁begin｜>";
inline constexpr std::string_view kToolCallEnd = "<｜tool▁call▁end｜>";
inline constexpr std::string_view kToolSep = "<｜tool▁sep｜>";

}  // namespace fathom::server
