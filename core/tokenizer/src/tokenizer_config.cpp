// tokenizer_config.json → TokenizerConfig, and where a model keeps its tokenizer files.
#include <nlohmann/json.hpp>

#include "fathom/tokenizer/json_field.h"
#include "fathom/tokenizer/tokenizer_files.h"

namespace fathom::tokenizer {

namespace {

// bos_token / eos_token / ...: a plain string, or transformers' serialised
// AddedToken ({"__type": "AddedToken", "content": ...}); null means unset.
std::optional<std::string> read_special_token(const JsonField& root, const char* key) {
  const auto field = root.find(key);
  if (!field || field->is_null()) return std::nullopt;
  if (field->is_string()) return field->string();
  if (field->is_object()) return (*field)["content"].string();
  throw field->invalid("must be a string or an object with \"content\"");
}

bool read_flag(const JsonField& root, const char* key) {
  const auto field = root.find(key);
  return field ? field->boolean() : false;
}

}  // namespace

TokenizerConfig parse_tokenizer_config(const nlohmann::json& json, const std::string& file) {
  const JsonField root(json, file);
  root.object();
  TokenizerConfig config;
  config.bos_token = read_special_token(root, "bos_token");
  config.eos_token = read_special_token(root, "eos_token");
  config.pad_token = read_special_token(root, "pad_token");
  config.unk_token = read_special_token(root, "unk_token");
  config.add_bos_token = read_flag(root, "add_bos_token");
  config.add_eos_token = read_flag(root, "add_eos_token");
  if (config.add_bos_token && !config.bos_token) throw root["add_bos_token"].invalid("true, but bos_token is not set");
  if (config.add_eos_token && !config.eos_token) throw root["add_eos_token"].invalid("true, but eos_token is not set");
  if (const auto chat_template = root.find("chat_template")) {
    if (!chat_template->is_string()) {
      throw chat_template->unsupported_here("only a single template string is supported (not a list of named templates)");
    }
    config.chat_template = chat_template->string();
    config.chat_template_origin = chat_template->where();
  }
  return config;
}

TokenizerFiles find_tokenizer_files(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  TokenizerFiles files;
  fs::path directory;
  if (fs::is_directory(path, ec)) {
    directory = path;
    files.tokenizer_json = path / "tokenizer.json";
    if (!fs::is_regular_file(files.tokenizer_json, ec)) {
      throw not_found(path.string() + ": no tokenizer.json in this directory");
    }
  } else if (fs::exists(path, ec)) {
    files.tokenizer_json = path;
    directory = path.parent_path();
  } else {
    throw not_found(path.string() + ": no such file or directory (expected a model directory or a tokenizer.json)");
  }
  if (const fs::path config = directory / "tokenizer_config.json"; fs::is_regular_file(config, ec)) {
    files.tokenizer_config = config;
  }
  if (const fs::path jinja = directory / "chat_template.jinja"; fs::is_regular_file(jinja, ec)) {
    files.chat_template = jinja;
  }
  return files;
}

}  // namespace fathom::tokenizer
