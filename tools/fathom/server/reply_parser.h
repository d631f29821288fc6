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
// one; finish() releases the rest and the calls. Fed whole, it gives the
// non-streamed reply.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/tool_call.h"

namespace fathom::server {

struct ReplyParts {
  std::string reasoning;
  std::string content;
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
    std::vector<ParsedToolCall> calls;
  };
  // A reply that never closes its reasoning is all reasoning; tool-call markers
  // with no complete call are content, as the model wrote them.
  Final finish();

 private:
  enum class Phase { reasoning, content, tool_calls };
  ReplyParts release(bool final);

  Phase phase_;
  bool tool_calls_;
  bool needs_opening_;    // Reasoning::if_opened: the reply must open with "<think>"
  bool at_start_ = true;  // the reply's opening is not yet known (a leading "<think>" may follow)
  std::string pending_;
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
