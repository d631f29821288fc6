// `fathom run`: generate from a prompt, streaming text to stdout as it is produced.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "fathom/core/error.h"
#include "fathom/core/logging.h"
#include "fathom/engine/json_schema_grammar.h"
#include "fathom/engine/text_grammar.h"
#include "model_session.h"

namespace fathom::cli {
namespace {

struct RunOptions {
  DeploymentOptions deploy;
  std::string model_dir;
  std::string prompt;
  std::optional<int64_t> max_tokens;
  std::optional<double> temperature, top_p;
  std::optional<int64_t> top_k;
  std::optional<uint64_t> seed;
  bool chat = false;
  bool json_object = false;
  std::string json_schema;  // a file holding a JSON schema
  std::string regex;        // the output matches it whole
  std::vector<std::string> choices;  // the output is one of them
  std::string grammar;      // a file holding a GBNF grammar
};

// The schema file's grammar; errors name the file.
std::shared_ptr<const engine::Grammar> schema_from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw not_found("--json-schema: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return engine::json_schema_grammar(text.str());
  } catch (const Error& e) {
    throw Error(e.code(), "--json-schema " + path + ": " + e.what());
  }
}

// The GBNF file's grammar; errors name the file (and the line and column in it).
std::shared_ptr<const engine::Grammar> gbnf_from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw not_found("--grammar: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return engine::gbnf_grammar(text.str(), "--grammar " + path);
}

int run_run(const GlobalOptions& global, const RunOptions& o) {
  ModelSession s = ModelSession::open(global, o.deploy, o.model_dir, /*require_tokenizer=*/true, /*slots=*/1);
  engine::GenerationRequest req;
  if (o.chat) {
    std::vector<tokenizer::ChatMessage> messages(1);
    messages[0].role = "user";
    messages[0].content = o.prompt;
    req.prompt = to_model_ids(s.tok->encode(s.tok->render_chat(messages, true), /*add_special_tokens=*/false));
  } else {
    req.prompt = to_model_ids(s.tok->encode(o.prompt, /*add_special_tokens=*/true));
  }
  req.sampling = sampling_from(s.config.generation);
  if (o.temperature) req.sampling.temperature = *o.temperature;
  if (o.top_p) req.sampling.top_p = *o.top_p;
  if (o.top_k) req.sampling.top_k = *o.top_k;
  if (o.seed) req.sampling.seed = *o.seed;
  req.json_object = o.json_object;
  if (!o.json_schema.empty()) req.grammar = schema_from_file(o.json_schema);
  if (!o.regex.empty()) req.grammar = engine::regex_grammar(o.regex, "--regex");
  if (!o.choices.empty()) req.grammar = engine::choice_grammar(o.choices, "--choice");
  if (!o.grammar.empty()) req.grammar = gbnf_from_file(o.grammar);
  req.max_new_tokens = o.max_tokens.value_or(s.config.generation.max_new_tokens);
  if (static_cast<int64_t>(req.prompt.size()) + req.max_new_tokens > s.config.runtime.max_seq_len) {
    req.max_new_tokens = s.config.runtime.max_seq_len - static_cast<int64_t>(req.prompt.size());
    if (req.max_new_tokens < 1) {
      throw out_of_range("the prompt has " + std::to_string(req.prompt.size()) +
                         " tokens, more than runtime.max_seq_len allows");
    }
  }

  std::string error;
  bool done = false;
  s.engine->submit(std::move(req), [&](const engine::TokenEvent& e) {
    if (!e.text.empty()) {
      std::fwrite(e.text.data(), 1, e.text.size(), stdout);
      std::fflush(stdout);
    }
    if (e.finished) {
      done = true;
      if (e.reason == engine::FinishReason::error) error = e.error;
    }
  });
  while (!done) s.engine->step();
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!error.empty()) throw Error(ErrorCode::internal, "generation failed: " + error);
  if (s.engine->speculation() != engine::Speculation::off) {
    const engine::SpeculationStats st = s.engine->speculation_stats();
    log().info("{} drafts: {} of {} accepted, {} decode steps", engine::speculation_name(s.engine->speculation()),
               st.accepted, st.drafted, st.steps);
  }
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("run", "Generate text from a prompt, streamed to stdout");
  auto o = std::make_shared<RunOptions>();
  o->deploy.add_to(*cmd);
  o->deploy.add_speculative_to(*cmd);
  o->deploy.add_chat_template_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory or GGUF file")->required();
  cmd->add_option("--prompt", o->prompt, "the prompt text")->required();
  cmd->add_option("--max-tokens", o->max_tokens, "tokens to generate at most (default: generation.max_new_tokens)");
  cmd->add_option("--temperature", o->temperature, "0 = greedy (default: generation.temperature)");
  cmd->add_option("--top-p", o->top_p, "nucleus sampling (default: generation.top_p)");
  cmd->add_option("--top-k", o->top_k, "keep the k most likely tokens (default: generation.top_k)");
  cmd->add_option("--seed", o->seed, "fixed seed: same seed, same output");
  cmd->add_flag("--chat", o->chat, "wrap the prompt in the model's chat template as one user turn");
  cmd->add_flag("--json-object", o->json_object,
                "JSON mode: the output is one JSON object (ends when it closes; a prefix if --max-tokens runs out)");
  cmd->add_option("--json-schema", o->json_schema,
                  "structured output: the output is JSON valid to the schema in this file (docs/server.md)")
      ->excludes(cmd->get_option("--json-object"));
  cmd->add_option("--regex", o->regex, "structured output: the output matches this regular expression whole (docs/server.md)")
      ->excludes(cmd->get_option("--json-object"))
      ->excludes(cmd->get_option("--json-schema"));
  cmd->add_option("--choice", o->choices, "structured output: the output is one of these (repeat the option)")
      ->excludes(cmd->get_option("--json-object"))
      ->excludes(cmd->get_option("--json-schema"))
      ->excludes(cmd->get_option("--regex"));
  cmd->add_option("--grammar", o->grammar,
                  "structured output: the output is a text the GBNF grammar in this file derives from 'root' (docs/server.md)")
      ->excludes(cmd->get_option("--json-object"))
      ->excludes(cmd->get_option("--json-schema"))
      ->excludes(cmd->get_option("--regex"))
      ->excludes(cmd->get_option("--choice"));
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_run(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
