// `fathom tokenize`, `fathom detokenize`, `fathom chat-render`: the tokenizer
// and the chat format from the command line, one JSON object per line out.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "fathom/core/error.h"
#include "fathom/tokenizer/chat_messages.h"
#include "fathom/tokenizer/tokenizer.h"
#include "server/chat_template_inputs.h"

namespace fathom::cli {
namespace {

using nlohmann::json;
using tokenizer::TokenId;
using tokenizer::Tokenizer;

// Calls `handle(value, where)` for every non-blank line of a JSON-lines file
// ("-" reads stdin); `where` is "FILE:LINE" for error messages.
// Calls handle(object, "path:line") for each non-blank line. `Json` is nlohmann::json, or
// nlohmann::ordered_json where member order matters (a tool schema a template prints).
template <class Json = json, class Handle>
void for_each_jsonl_line(const std::string& path, Handle&& handle) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) throw not_found(path + ": cannot open");
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    Json value;
    try {
      value = Json::parse(line);
    } catch (const json::exception& e) {  // parse errors, and numbers out of range (1e400)
      throw invalid_argument(where + ": not valid JSON: " + e.what());
    }
    if (!value.is_object()) throw invalid_argument(where + ": expected a JSON object");
    handle(value, where);
  }
  if (in.bad()) throw io_error(path + ": read failed");
}

const json& required_member(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) throw invalid_argument(where + ": missing \"" + key + "\"");
  return *it;
}

void print_line(const json& value) { std::cout << value.dump() << '\n'; }

// ---------------------------------------------------------------- tokenize

struct TokenizeOptions {
  std::string tokenizer;
  std::vector<std::string> texts;
  std::string jsonl;
  bool add_special = false;
  int bench_repeat = 0;
  bool bench_cold = false;
};

std::vector<std::string> collect_texts(const TokenizeOptions& o) {
  std::vector<std::string> texts = o.texts;
  if (!o.jsonl.empty()) {
    for_each_jsonl_line(o.jsonl, [&](const json& line, const std::string& where) {
      const json& text = required_member(line, "text", where);
      if (!text.is_string()) throw invalid_argument(where + ": \"text\" must be a string");
      texts.push_back(text.get<std::string>());
    });
  }
  return texts;
}

// Times encoding only: the tokenizer is loaded and the inputs read before the
// clock starts. Warm (default): one untimed pass fills the word cache first,
// as in a long-running process. Cold (--bench-cold): the cache is emptied
// before every pass, so every word goes through BPE once per pass. Prints one
// JSON object.
void run_tokenize_bench(const Tokenizer& tok, const std::vector<std::string>& texts, const TokenizeOptions& o) {
  using Clock = std::chrono::steady_clock;
  std::size_t bytes = 0;
  for (const auto& text : texts) bytes += text.size();
  std::vector<TokenId> ids;
  std::size_t tokens = 0;
  auto one_pass = [&] {
    if (o.bench_cold) tok.clear_caches();
    const auto start = Clock::now();
    tokens = 0;
    for (const auto& text : texts) {
      ids.clear();
      tok.encode_into(text, o.add_special, ids);
      tokens += ids.size();
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  const double first_pass = one_pass();
  std::vector<double> passes;
  for (int r = 0; r < o.bench_repeat; ++r) passes.push_back(one_pass());
  std::vector<double> sorted = passes;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                          : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  print_line({{"tool", "fathom"},
              {"cache", o.bench_cold ? "cold" : "warm"},
              {"inputs", texts.size()},
              {"bytes", bytes},
              {"tokens", tokens},
              {"repeats", passes.size()},
              {"first_pass_seconds", first_pass},
              {"pass_seconds", passes},
              {"median_pass_seconds", median},
              {"mb_per_s", static_cast<double>(bytes) / median / 1e6},
              {"first_pass_mb_per_s", static_cast<double>(bytes) / first_pass / 1e6}});
}

int run_tokenize(const TokenizeOptions& o) {
  if (o.texts.empty() && o.jsonl.empty()) throw invalid_argument("tokenize: give --text and/or --jsonl");
  const Tokenizer tok = Tokenizer::load(o.tokenizer);
  const std::vector<std::string> texts = collect_texts(o);
  if (o.bench_repeat > 0) {
    run_tokenize_bench(tok, texts, o);
    return 0;
  }
  std::vector<TokenId> ids;
  for (const auto& text : texts) {
    ids.clear();
    tok.encode_into(text, o.add_special, ids);
    print_line({{"ids", ids}});
  }
  return 0;
}

void setup_tokenize_command(CLI::App& root, GlobalOptions&, CommandRunner& run) {
  auto options = std::make_shared<TokenizeOptions>();
  auto* cmd = root.add_subcommand("tokenize", "Text to token ids: prints one {\"ids\": [...]} line per input");
  cmd->add_option("--tokenizer", options->tokenizer, "model directory, tokenizer.json or GGUF file")->required();
  cmd->add_option("--text", options->texts, "a text to tokenize (repeatable; printed before --jsonl inputs)")
      ->allow_extra_args(false);  // one text per --text, so a stray word is an error, not a second text
  cmd->add_option("--jsonl", options->jsonl, "file of {\"text\": ...} lines ('-' for stdin)");
  cmd->add_flag("--add-special", options->add_special, "add BOS/EOS as tokenizer_config.json says");
  cmd->add_option("--bench-repeat", options->bench_repeat,
                  "benchmark: time N passes over the inputs after a warm-up pass, print throughput JSON instead of ids")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--bench-cold", options->bench_cold, "benchmark: empty the word cache before every timed pass");
  cmd->callback([options, &run] { run = [options] { return run_tokenize(*options); }; });
}

// ---------------------------------------------------------------- detokenize

struct DetokenizeOptions {
  std::string tokenizer;
  std::string ids;
  std::string jsonl;
  bool skip_special = false;
};

std::vector<TokenId> parse_id_list(const std::string& list) {
  std::vector<TokenId> ids;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    const auto begin = item.find_first_not_of(" \t");
    const auto end = item.find_last_not_of(" \t");
    if (begin == std::string::npos) throw invalid_argument("--ids: empty item in '" + list + "'");
    const std::string digits = item.substr(begin, end - begin + 1);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 10 ||
        std::stoull(digits) >= tokenizer::kNoToken) {
      throw invalid_argument("--ids: '" + digits + "' is not a token id");
    }
    ids.push_back(static_cast<TokenId>(std::stoull(digits)));
  }
  return ids;
}

std::vector<TokenId> ids_from_json(const json& value, const std::string& where) {
  if (!value.is_array()) throw invalid_argument(where + ": \"ids\" must be a list of token ids");
  std::vector<TokenId> ids;
  ids.reserve(value.size());
  for (const json& id : value) {
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= tokenizer::kNoToken) {
      throw invalid_argument(where + ": \"ids\" holds " + id.dump() + ", which is not a token id");
    }
    ids.push_back(id.get<TokenId>());
  }
  return ids;
}

int run_detokenize(const DetokenizeOptions& o) {
  if (o.ids.empty() && o.jsonl.empty()) throw invalid_argument("detokenize: give --ids and/or --jsonl");
  const Tokenizer tok = Tokenizer::load(o.tokenizer);
  if (!o.ids.empty()) std::cout << tok.decode(parse_id_list(o.ids), o.skip_special) << '\n';
  if (!o.jsonl.empty()) {
    for_each_jsonl_line(o.jsonl, [&](const json& line, const std::string& where) {
      const std::vector<TokenId> ids = ids_from_json(required_member(line, "ids", where), where);
      try {
        print_line({{"text", tok.decode(ids, o.skip_special)}});
      } catch (const Error& e) {
        throw e.with_context(where);
      }
    });
  }
  return 0;
}

void setup_detokenize_command(CLI::App& root, GlobalOptions&, CommandRunner& run) {
  auto options = std::make_shared<DetokenizeOptions>();
  auto* cmd = root.add_subcommand("detokenize", "Token ids to text: --ids prints the text, --jsonl prints {\"text\": ...} lines");
  cmd->add_option("--tokenizer", options->tokenizer, "model directory, tokenizer.json or GGUF file")->required();
  cmd->add_option("--ids", options->ids, "comma-separated ids, e.g. 1,2,3");
  cmd->add_option("--jsonl", options->jsonl, "file of {\"ids\": [...]} lines ('-' for stdin)");
  cmd->add_flag("--skip-special", options->skip_special, "leave out special tokens (BOS, EOS, ...)");
  cmd->callback([options, &run] { run = [options] { return run_detokenize(*options); }; });
}

// ---------------------------------------------------------------- chat-render

struct ChatRenderOptions {
  std::string tokenizer;
  std::string jsonl;
  std::string chat_template;
  bool with_ids = false;
};

// A line's "tools", "tool_choice" and "chat_template_kwargs", read and checked as the server
// reads them from a request (member order kept).
tokenizer::jinja::Dict template_variables(const nlohmann::ordered_json& line, const json& plain,
                                          const std::string& where) {
  try {
    return server::parse_chat_template_inputs(server::JsonFields(plain), line.dump()).variables;
  } catch (const Error& e) {
    throw invalid_argument(where + ": " + e.what());
  }
}

int run_chat_render(const ChatRenderOptions& o) {
  Tokenizer tok = Tokenizer::load(o.tokenizer);
  if (!o.chat_template.empty()) tok.use_chat_template_file(o.chat_template);
  for_each_jsonl_line<nlohmann::ordered_json>(o.jsonl, [&](const nlohmann::ordered_json& line, const std::string& where) {
    const json plain(line);
    const auto messages = tokenizer::chat_messages_from_json(required_member(plain, "messages", where), where);
    bool add_generation_prompt = false;
    if (const auto flag = plain.find("add_generation_prompt"); flag != plain.end()) {
      if (!flag->is_boolean()) throw invalid_argument(where + ": \"add_generation_prompt\" must be true or false");
      add_generation_prompt = flag->get<bool>();
    }
    const std::string rendered = tok.render_chat(messages, add_generation_prompt, template_variables(line, plain, where));
    json out = {{"rendered", rendered}};
    // The rendered prompt already holds BOS as text, so no special tokens are added.
    if (o.with_ids) out["ids"] = tok.encode(rendered);
    print_line(out);
  });
  return 0;
}

void setup_chat_render_command(CLI::App& root, GlobalOptions&, CommandRunner& run) {
  auto options = std::make_shared<ChatRenderOptions>();
  auto* cmd = root.add_subcommand(
      "chat-render", "Render conversations with the model's chat template: prints one {\"rendered\": ...} line each");
  cmd->add_option("--tokenizer", options->tokenizer, "model directory (tokenizer.json + tokenizer_config.json) or GGUF file")
      ->required();
  cmd->add_option("--jsonl", options->jsonl,
                  "file of {\"messages\": [...], \"add_generation_prompt\": bool} lines ('-' for stdin); a line may "
                  "also give \"tools\" and \"chat_template_kwargs\"")
      ->required();
  cmd->add_option("--chat-template", options->chat_template, "render with this Jinja file instead of the model's")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--with-ids", options->with_ids, "also print the prompt's token ids");
  cmd->callback([options, &run] { run = [options] { return run_chat_render(*options); }; });
}

}  // namespace
}  // namespace fathom::cli

FATHOM_REGISTER_COMMAND(fathom::cli::setup_tokenize_command);
FATHOM_REGISTER_COMMAND(fathom::cli::setup_detokenize_command);
FATHOM_REGISTER_COMMAND(fathom::cli::setup_chat_render_command);
