// A tool call as a chat reply carries it: whole (a non-streamed reply), or in
// pieces (a stream, where a call's first piece names it and the rest append to
// its arguments, as OpenAI streams them).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fathom::server {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // as the model wrote them (JSON text, unchecked, as OpenAI returns them)
};

struct ToolCallDelta {
  size_t index = 0;                 // of the call in the reply
  std::optional<std::string> name;  // set on a call's first piece, which also gets the call's id
  std::string arguments;            // appended to the call's arguments
};

// Adds `piece` to `pieces`, joined to the last one when it goes on the same call: a stream sends
// one piece per call per token rather than one per byte.
void append_call_piece(std::vector<ToolCallDelta>& pieces, ToolCallDelta piece);

// Pieces put back together into whole calls (a piece without a name adds to the call of its index).
std::vector<ParsedToolCall> join_call_deltas(const std::vector<ToolCallDelta>& deltas);

}  // namespace fathom::server
