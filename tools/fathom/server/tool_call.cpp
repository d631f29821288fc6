#include "server/tool_call.h"

#include <utility>

namespace fathom::server {

void append_call_piece(std::vector<ToolCallDelta>& pieces, ToolCallDelta piece) {
  if (!pieces.empty() && pieces.back().index == piece.index && !piece.name) {
    pieces.back().arguments += piece.arguments;
  } else {
    pieces.push_back(std::move(piece));
  }
}

std::vector<ParsedToolCall> join_call_deltas(const std::vector<ToolCallDelta>& deltas) {
  std::vector<ParsedToolCall> calls;
  for (const ToolCallDelta& d : deltas) {
    if (d.index >= calls.size()) calls.resize(d.index + 1);
    if (d.name) calls[d.index].name = *d.name;
    calls[d.index].arguments += d.arguments;
  }
  return calls;
}

}  // namespace fathom::server
