#include "server/strict_tool_calls.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "fathom/core/error.h"
#include "fathom/engine/json_schema_grammar.h"
#include "server/forced_tool_calls.h"
#include "server/reply_parser.h"

namespace fathom::server {

namespace {

using nlohmann::ordered_json;
using Seq = engine::GrammarBuilder::Seq;

constexpr std::string_view kProbeNames[2] = {"fathom_probe_a", "fathom_probe_b"};
constexpr std::string_view kProbeArguments = "{}";
// V3 and R1 fence the arguments as a json code block after the name.
constexpr std::string_view kV3Fence = "\n```json\n";
constexpr std::string_view kV3FenceEnd = "\n```";

bool is_whitespace(std::string_view s) { return s.find_first_not_of(" \n\r\t") == std::string_view::npos; }

std::string str(std::string_view s) { return std::string(s); }

// The text between the n-th <｜tool▁call▁begin｜> (from `from`) and its <｜tool▁call▁end｜>.
std::optional<std::string_view> call_text(std::string_view text, size_t& from) {
  const size_t begin = text.find(kToolCallBegin, from);
  if (begin == std::string_view::npos) return std::nullopt;
  const size_t inner = begin + kToolCallBegin.size();
  const size_t end = text.find(kToolCallEnd, inner);
  if (end == std::string_view::npos) return std::nullopt;
  from = end + kToolCallEnd.size();
  return text.substr(inner, end - inner);
}

std::optional<CallFormat::Name> format_of(std::string_view call, std::string_view name) {
  if (call == "function" + str(kToolSep) + str(name) + str(kV3Fence) + str(kProbeArguments) + str(kV3FenceEnd)) {
    return CallFormat::Name::v3;
  }
  if (call == str(name) + str(kToolSep) + str(kProbeArguments)) return CallFormat::Name::v31;
  return std::nullopt;
}

// `"strict": true` on the tool's function (anything else, "yes" included, is not strict).
bool is_strict(const ordered_json& tool) {
  if (!tool.is_object()) return false;
  const auto function = tool.find("function");
  if (function == tool.end() || !function->is_object()) return false;
  const auto strict = function->find("strict");
  return strict != function->end() && strict->is_boolean() && strict->get<bool>();
}

}  // namespace

bool any_strict_tool(const ordered_json& tools) {
  return tools.is_array() && std::any_of(tools.begin(), tools.end(), is_strict);
}

std::optional<CallFormat> template_call_format(const tokenizer::Tokenizer& tok, const ChatTemplateInputs& inputs) {
  // A conversation whose assistant turn makes two calls, rendered as the model's own past turn.
  std::vector<tokenizer::ChatMessage> probe = {tokenizer::text_message("user", "?")};
  tokenizer::ChatMessage reply;
  reply.role = "assistant";
  reply.has_tool_calls = true;
  for (std::string_view name : kProbeNames) reply.tool_calls.push_back({"function", str(name), str(kProbeArguments)});
  probe.push_back(std::move(reply));
  std::string text;
  try {
    text = tok.render_chat(probe, /*add_generation_prompt=*/false, inputs.variables);
  } catch (const Error&) {
    return std::nullopt;  // a template that cannot render calls does not show their format
  }
  // The calls are the turn's, not an example of the format the template shows with the tools.
  const size_t named = text.find(kProbeNames[0]);
  if (named == std::string::npos) return std::nullopt;
  size_t at = text.rfind(kToolCallBegin, named);
  if (at == std::string::npos) return std::nullopt;
  const auto first = call_text(text, at);
  const size_t first_end = at;
  const auto second = call_text(text, at);
  if (!first || !second) return std::nullopt;
  const auto name = format_of(*first, kProbeNames[0]);
  if (!name || format_of(*second, kProbeNames[1]) != name) return std::nullopt;
  const std::string_view between =
      std::string_view(text).substr(first_end, text.find(kToolCallBegin, first_end) - first_end);
  if (!is_whitespace(between)) return std::nullopt;
  return CallFormat{*name, str(between)};
}

std::shared_ptr<const engine::Grammar> strict_calls_grammar(const CallFormat& format, const ordered_json& tools,
                                                            bool parallel) {
  engine::GrammarBuilder g;
  const auto any_object = engine::json_schema_grammar(ordered_json{{"type", "object"}});
  std::vector<Seq> calls;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ordered_json& function = tools[i]["function"];
    const bool strict = is_strict(tools[i]);
    const std::string name = function["name"].get<std::string>();
    const auto arguments = strict ? tool_arguments_grammar(tools, i) : any_object;
    const uint32_t value = engine::import_grammar(g, *arguments, "tools[" + std::to_string(i) + "].arguments");
    const Seq head = format.name == CallFormat::Name::v3 ? g.text("function" + str(kToolSep) + name + str(kV3Fence))
                                                          : g.text(name + str(kToolSep));
    const Seq tail = format.name == CallFormat::Name::v3 ? g.text(kV3FenceEnd) : Seq{};
    calls.push_back(g.text(kToolCallBegin) + head + engine::GrammarBuilder::ref(value) + tail + g.text(kToolCallEnd));
  }
  const uint32_t call = g.rule("call", std::move(calls));
  const uint32_t rest = g.declare("more calls");
  std::vector<Seq> rest_alternatives = {g.text(kToolCallsEnd)};
  if (parallel) rest_alternatives.push_back(g.text(format.between_calls) + engine::GrammarBuilder::ref(call) + engine::GrammarBuilder::ref(rest));
  g.define(rest, std::move(rest_alternatives));
  const uint32_t root = g.rule("calls", {engine::GrammarBuilder::ref(call) + engine::GrammarBuilder::ref(rest)});
  const std::string key = "strict-calls:" + std::to_string(static_cast<int>(format.name)) + ":" + format.between_calls +
                          (parallel ? ":parallel:" : ":one:") + tools.dump();
  return std::make_shared<const engine::Grammar>(g.build(root, key));
}

std::shared_ptr<const engine::Grammar> content_or_calls_grammar(const engine::Grammar& content,
                                                                const engine::Grammar& calls) {
  engine::GrammarBuilder g;
  const uint32_t c = engine::import_grammar(g, content, "content");
  const uint32_t k = engine::import_grammar(g, calls, "calls");
  const uint32_t root =
      g.rule("reply", {engine::GrammarBuilder::ref(c), g.text(kToolCallsBegin) + engine::GrammarBuilder::ref(k)});
  const bool keyed = !content.key().empty() && !calls.key().empty();
  return std::make_shared<const engine::Grammar>(
      g.build(root, keyed ? "content-or-calls:" + content.key() + "\n" + calls.key() : std::string()));
}

}  // namespace fathom::server
