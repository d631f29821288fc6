#include "server/tool_call.h"

namespace fathom::server {

std::vector<ToolCallDelta> whole_call_deltas(const std::vector<ParsedToolCall>& calls) {
  std::vector<ToolCallDelta> deltas;
  for (size_t i = 0; i < calls.size(); ++i) deltas.push_back({i, calls[i].name, calls[i].arguments});
  return deltas;
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
