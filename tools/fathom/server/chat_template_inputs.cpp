#include "server/chat_template_inputs.h"

#include <algorithm>
#include <array>
#include <optional>

#include "server/api_error.h"

namespace fathom::server {

namespace {

using nlohmann::json;

// The variables the server sets itself; chat_template_kwargs may not replace them.
constexpr std::array<std::string_view, 4> kReservedVariables = {"messages", "tools", "documents", "add_generation_prompt"};

void check_tool(const json& tool, const std::string& where) {
  if (!tool.is_object()) throw bad_request("'" + where + "' must be an object", "tools");
  const auto type = tool.find("type");
  if (type == tool.end() || *type != "function") throw bad_request("'" + where + ".type' must be \"function\"", "tools");
  const auto function = tool.find("function");
  if (function == tool.end() || !function->is_object()) {
    throw bad_request("'" + where + ".function' must be an object", "tools");
  }
  const auto name = function->find("name");
  if (name == function->end() || !name->is_string() || name->get<std::string>().empty()) {
    throw bad_request("'" + where + ".function.name' must be a non-empty string", "tools");
  }
  if (const auto d = function->find("description"); d != function->end() && !d->is_string() && !d->is_null()) {
    throw bad_request("'" + where + ".function.description' must be a string", "tools");
  }
  if (const auto p = function->find("parameters"); p != function->end() && !p->is_object() && !p->is_null()) {
    throw bad_request("'" + where + ".function.parameters' must be a JSON schema object", "tools");
  }
}

// The body read again with members in the order the client wrote them (the parse every field is
// read from sorts them); only when a field a template may print is there, and then once.
class OrderedBody {
 public:
  explicit OrderedBody(std::string_view body) : body_(body) {}
  tokenizer::jinja::Value member(const char* name) {
    if (!parsed_) parsed_ = nlohmann::ordered_json::parse(body_);  // parsed once already: valid
    return tokenizer::jinja::Value::from_json((*parsed_)[name]);
  }

 private:
  std::string_view body_;
  std::optional<nlohmann::ordered_json> parsed_;
};

// tool_choice: "none", "auto" (the default), "required", or {"type": "function", "function":
// {"name": NAME}} naming one of the tools.
void parse_tool_choice(const json& choice, const json* tools, ChatTemplateInputs& inputs) {
  if (choice == "none") {
    inputs.tool_choice_none = true;
    return;
  }
  if (choice == "auto") return;
  ForcedToolChoice forced;
  if (choice.is_object()) {
    const auto type = choice.find("type");
    const auto function = choice.find("function");
    if (type == choice.end() || *type != "function" || function == choice.end() || !function->is_object() ||
        !function->contains("name") || !(*function)["name"].is_string()) {
      throw bad_request("'tool_choice' must name a function as {\"type\": \"function\", \"function\": {\"name\": ...}}",
                        "tool_choice");
    }
    forced.function = (*function)["name"].get<std::string>();
    const bool listed = tools && tools->is_array() &&
                        std::any_of(tools->begin(), tools->end(), [&](const json& tool) {
                          return tool["function"]["name"] == forced.function;
                        });
    if (!listed) {
      throw bad_request("'tool_choice' names the function '" + forced.function + "', which is not in 'tools'",
                        "tool_choice");
    }
  } else if (choice != "required") {
    throw bad_request("'tool_choice' must be \"none\", \"auto\", \"required\" or a named function", "tool_choice");
  } else if (!inputs.has_tools) {
    throw bad_request("'tool_choice' \"required\" needs 'tools' to call", "tool_choice");
  }
  inputs.forced = std::move(forced);
}

}  // namespace

ChatTemplateInputs parse_chat_template_inputs(const JsonFields& fields, std::string_view body) {
  ChatTemplateInputs inputs;
  OrderedBody ordered(body);
  if (const json* tools = fields.find("tools")) {
    if (!tools->is_array()) throw bad_request("'tools' must be a list of function definitions", "tools");
    for (size_t i = 0; i < tools->size(); ++i) check_tool((*tools)[i], "tools[" + std::to_string(i) + "]");
    if (!tools->empty()) {
      inputs.has_tools = true;
      inputs.variables.emplace_back("tools", ordered.member("tools"));
    }
  }
  inputs.parallel_tool_calls = fields.boolean("parallel_tool_calls").value_or(true);
  if (const json* choice = fields.find("tool_choice")) {
    parse_tool_choice(*choice, fields.find("tools"), inputs);
    if (inputs.forced) inputs.forced->parallel = inputs.parallel_tool_calls;
  }
  if (const json* kwargs = fields.find("chat_template_kwargs")) {
    if (!kwargs->is_object()) throw bad_request("'chat_template_kwargs' must be an object", "chat_template_kwargs");
    const tokenizer::jinja::Value kwargs_in_order = ordered.member("chat_template_kwargs");
    for (const auto& [name, value] : kwargs_in_order.as_dict()) {
      if (std::find(kReservedVariables.begin(), kReservedVariables.end(), name) != kReservedVariables.end()) {
        throw bad_request("'chat_template_kwargs." + name + "' is set by the request itself and cannot be overridden",
                          "chat_template_kwargs");
      }
      inputs.variables.emplace_back(name, value);
    }
  }
  return inputs;
}

std::string render_chat_prompt(const tokenizer::Tokenizer& tok, const std::vector<tokenizer::ChatMessage>& messages,
                               const ChatTemplateInputs& inputs, bool add_generation_prompt) {
  if (!tok.has_chat_template()) throw bad_request("this model has no chat template; use /v1/completions", "messages");
  if (inputs.has_tools && !tok.chat_template_reads("tools")) {
    throw bad_request(
        "'tools': this model's chat template never reads 'tools', so the model would not see them; serve it with "
        "--chat-template FILE naming a template that presents tools",
        "tools");
  }
  try {
    return tok.render_chat(messages, add_generation_prompt, inputs.variables);
  } catch (const Error& e) {
    throw bad_request(e.what(), "messages");  // the template failed on this conversation
  }
}

}  // namespace fathom::server
