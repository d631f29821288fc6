// tool_choice that makes the model call tools: a function the request names
// ({"type": "function", "function": {"name": ...}}) or "required" (one or more
// calls of any of the tools). Fathom forces the calls with the structured-output
// grammar (json_schema_grammar.h), as vLLM does, so they come out whatever the
// model's own call format and however weak the model:
//  - a named function: the reply is its arguments, a JSON text its `parameters`
//    schema accepts;
//  - "required": the reply is a JSON list of calls, [{"name": NAME, "arguments":
//    ARGUMENTS}, ...], each item one of the tools (its name a constant, its
//    arguments per its schema); one item only when parallel_tool_calls is false.
// ForcedCallReader reads such a reply back into tool calls, piece by piece for
// streams: the arguments stream as the model writes them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/engine/grammar.h"
#include "server/tool_call.h"

namespace fathom::server {

struct ForcedToolChoice {
  std::string function;  // the named function; empty for "required"
  bool parallel = true;  // "required": more than one call allowed (parallel_tool_calls)
};

// The grammar of a reply that makes the forced calls. `tools`: the request's tools as the client
// wrote them (member order kept: it orders the generated members). Throws ApiError (400, param
// "tools") naming the tool whose parameters schema cannot be generated for.
std::shared_ptr<const engine::Grammar> forced_calls_grammar(const ForcedToolChoice& choice,
                                                            const nlohmann::ordered_json& tools);

// A tool's `parameters` schema; a function without one takes none: {} only.
nlohmann::ordered_json tool_parameters(const nlohmann::ordered_json& tool);
// The grammar of tools[index]'s arguments. Throws ApiError (400, param "tools") naming the tool
// when its schema cannot be generated for.
std::shared_ptr<const engine::Grammar> tool_arguments_grammar(const nlohmann::ordered_json& tools, size_t index);

class ForcedCallReader {
 public:
  explicit ForcedCallReader(ForcedToolChoice choice);

  // The call pieces `text` completes. A call's arguments are its JSON value as the model wrote
  // it, without the whitespace around it (whitespace is held back until more of the value follows).
  std::vector<ToolCallDelta> feed(std::string_view text);

  // Whether a call began. A reply cut off (max_tokens) before its first call's name made none.
  bool called() const { return calls_ > 0; }
  // Everything fed so far, for a reply that made no call (not kept once a call began).
  const std::string& text() const { return text_; }

 private:
  void step(char c, std::vector<ToolCallDelta>& out);
  void step_arguments(char c, std::vector<ToolCallDelta>& out);
  void step_string(char c, std::vector<ToolCallDelta>& out);
  // Inside a string: follows escapes; true when `c` is the closing quote.
  bool string_closed_by(char c);
  void begin_call(std::string name, std::vector<ToolCallDelta>& out);

  enum class StringRole { other, key, name };
  // Where the reply's JSON is: bracket depth outside strings, inside a string or not.
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  StringRole string_role_ = StringRole::other;
  std::string string_raw_;  // a key's or a name's text as written (escapes included)
  // Inside a call object of a "required" list (depth 2).
  bool expect_key_ = false;
  bool expect_value_ = false;
  std::string key_;
  int item_call_ = -1;  // the call the current object began, -1 before it has one
  // Inside a call's arguments.
  bool in_arguments_ = false;
  int arguments_depth_ = 0;  // the depth the arguments value sits at
  bool arguments_begun_ = false;  // the value's first character came
  std::string held_whitespace_;
  std::string named_;  // a named function: the whole reply is its arguments
  size_t calls_ = 0;
  std::string text_;
};

}  // namespace fathom::server
