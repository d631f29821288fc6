#include "server/forced_tool_calls.h"

#include <algorithm>
#include <array>
#include <span>
#include <utility>

#include "fathom/core/error.h"
#include "fathom/engine/json_schema_grammar.h"
#include "server/api_error.h"

namespace fathom::server {

namespace {

using nlohmann::ordered_json;

// Keywords whose values are maps from names to schemas, and those whose values are data.
constexpr std::array<std::string_view, 5> kSchemaMaps = {"properties", "$defs", "definitions", "patternProperties",
                                                         "dependentSchemas"};
constexpr std::array<std::string_view, 4> kDataKeywords = {"const", "enum", "default", "examples"};

bool one_of(std::string_view key, std::span<const std::string_view> keys) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// A tool's schema moved under `prefix` of the list's schema: its references ("#/$defs/x", "#")
// are to its own root, which is now at `prefix`.
void relocate_references(ordered_json& schema, const std::string& prefix) {
  if (schema.is_array()) {
    for (ordered_json& item : schema) relocate_references(item, prefix);
    return;
  }
  if (!schema.is_object()) return;
  for (auto& [key, value] : schema.items()) {
    if (key == "$ref" && value.is_string() && value.get<std::string>().starts_with("#")) {
      value = prefix + value.get<std::string>().substr(1);
    } else if (one_of(key, kSchemaMaps) && value.is_object()) {
      for (auto& [name, member] : value.items()) relocate_references(member, prefix);
    } else if (!one_of(key, kDataKeywords)) {
      relocate_references(value, prefix);
    }
  }
}

bool is_whitespace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// A JSON string's text between its quotes, unescaped; as written if it does not parse.
std::string unescape(const std::string& raw) {
  try {
    return nlohmann::json::parse("\"" + raw + "\"").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return raw;
  }
}

}  // namespace

// A function without `parameters` takes none (OpenAI: "an empty parameter list"): {} only.
ordered_json tool_parameters(const ordered_json& tool) {
  const ordered_json& function = tool["function"];
  const auto it = function.find("parameters");
  if (it == function.end() || it->is_null()) {
    return {{"type", "object"}, {"properties", ordered_json::object()}, {"additionalProperties", false}};
  }
  return *it;
}

std::shared_ptr<const engine::Grammar> tool_arguments_grammar(const ordered_json& tools, size_t index) {
  try {
    return engine::json_schema_grammar(tool_parameters(tools[index]));
  } catch (const Error& e) {
    throw bad_request("'tools[" + std::to_string(index) + "].function.parameters': " + e.what(), "tools");
  }
}

std::shared_ptr<const engine::Grammar> forced_calls_grammar(const ForcedToolChoice& choice, const ordered_json& tools) {
  if (!choice.function.empty()) {
    for (size_t i = 0; i < tools.size(); ++i) {
      if (tools[i]["function"]["name"] == choice.function) return tool_arguments_grammar(tools, i);
    }
    throw bad_request("'tool_choice' names the function '" + choice.function + "', which is not in 'tools'",
                      "tool_choice");
  }
  ordered_json calls = ordered_json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    ordered_json parameters = tool_parameters(tools[i]);
    const std::string at = tools.size() == 1 ? "#/items/properties/arguments"
                                             : "#/items/anyOf/" + std::to_string(i) + "/properties/arguments";
    relocate_references(parameters, at);
    ordered_json properties = ordered_json::object();
    properties["name"] = {{"const", tools[i]["function"]["name"]}};
    properties["arguments"] = std::move(parameters);
    calls.push_back({{"type", "object"},
                     {"properties", std::move(properties)},
                     {"required", {"name", "arguments"}},
                     {"additionalProperties", false}});
  }
  ordered_json list = {{"type", "array"}, {"minItems", 1}};
  list["items"] = calls.size() == 1 ? calls[0] : ordered_json{{"anyOf", calls}};
  if (!choice.parallel) list["maxItems"] = 1;
  try {
    return engine::json_schema_grammar(list);
  } catch (const Error& e) {
    // Name the tool and the place in its own schema: compile each alone (only on this path).
    for (size_t i = 0; i < tools.size(); ++i) tool_arguments_grammar(tools, i);
    throw bad_request(std::string("'tools': the list of calls cannot be generated for: ") + e.what(), "tools");
  }
}

ForcedCallReader::ForcedCallReader(ForcedToolChoice choice) : named_(std::move(choice.function)) {
  if (!named_.empty()) {
    in_arguments_ = true;  // the whole reply, at depth 0
    arguments_depth_ = 0;
  }
}

std::vector<ToolCallDelta> ForcedCallReader::feed(std::string_view text) {
  std::vector<ToolCallDelta> out;
  if (text.empty()) return out;
  if (calls_ == 0) text_ += text;  // read only while no call began
  if (!named_.empty() && calls_ == 0) begin_call(named_, out);
  for (const char c : text) step(c, out);
  return out;
}

void ForcedCallReader::begin_call(std::string name, std::vector<ToolCallDelta>& out) {
  item_call_ = static_cast<int>(calls_++);
  out.push_back({static_cast<size_t>(item_call_), std::move(name), {}});
}

void ForcedCallReader::step(char c, std::vector<ToolCallDelta>& out) {
  if (in_arguments_) return step_arguments(c, out);
  if (in_string_) return step_string(c, out);
  if (is_whitespace(c)) return;
  if (expect_value_) {
    // The first character of a call member's value.
    expect_value_ = false;
    if (key_ == "arguments") {
      if (item_call_ < 0) begin_call({}, out);  // arguments before the name: the grammar puts the name first
      in_arguments_ = true;
      arguments_begun_ = false;
      arguments_depth_ = depth_;
      return step_arguments(c, out);
    }
    if (key_ == "name" && c == '"') {
      in_string_ = true;
      string_role_ = StringRole::name;
      string_raw_.clear();
      return;
    }
  }
  switch (c) {
    case '"':
      in_string_ = true;
      string_role_ = depth_ == 2 && expect_key_ ? StringRole::key : StringRole::other;
      string_raw_.clear();
      break;
    case '{':
    case '[':
      ++depth_;
      if (depth_ == 2 && c == '{') {  // a call of the list
        expect_key_ = true;
        item_call_ = -1;
      }
      break;
    case '}':
    case ']':
      --depth_;
      break;
    case ':':
      if (depth_ == 2) {
        expect_key_ = false;
        expect_value_ = true;
      }
      break;
    case ',':
      if (depth_ == 2) expect_key_ = true;
      break;
    default:
      break;  // a scalar of a member Fathom does not read
  }
}

bool ForcedCallReader::string_closed_by(char c) {
  if (escaped_) {
    escaped_ = false;
  } else if (c == '\\') {
    escaped_ = true;
  } else if (c == '"') {
    in_string_ = false;
    return true;
  }
  return false;
}

void ForcedCallReader::step_string(char c, std::vector<ToolCallDelta>& out) {
  if (!string_closed_by(c)) {
    string_raw_ += c;
  } else if (string_role_ == StringRole::key) {
    key_ = unescape(string_raw_);
  } else if (string_role_ == StringRole::name && item_call_ < 0) {
    begin_call(unescape(string_raw_), out);
  }
}

void ForcedCallReader::step_arguments(char c, std::vector<ToolCallDelta>& out) {
  const auto append = [&](std::string piece) {
    append_call_piece(out, {static_cast<size_t>(item_call_), std::nullopt, std::move(piece)});
  };
  if (in_string_) {
    append(std::string(1, c));
    string_closed_by(c);
    return;
  }
  if (depth_ == arguments_depth_ && (c == ',' || c == '}')) {
    // The value ended: what follows belongs to the list (the next member, or the call's end).
    in_arguments_ = false;
    held_whitespace_.clear();
    return step(c, out);
  }
  if (is_whitespace(c)) {
    if (arguments_begun_) held_whitespace_ += c;  // before the value: not part of it
    return;
  }
  arguments_begun_ = true;
  append(std::exchange(held_whitespace_, {}) + c);
  if (c == '"') in_string_ = true;
  if (c == '{' || c == '[') ++depth_;
  if (c == '}' || c == ']') --depth_;
}

}  // namespace fathom::server
