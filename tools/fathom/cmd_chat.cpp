// `fathom chat`: an interactive terminal chat in the model's chat format. The reasoning part of
// R1-style answers (<think>…</think>) is shown dimmed on a terminal and marked otherwise.
// Commands: /reset (forget the conversation), /exit (or end of input).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "fathom/core/error.h"
#include "model_session.h"

namespace fathom::cli {
namespace {

struct ChatOptions {
  DeploymentOptions deploy;
  std::string model_dir;
  std::string system;
  std::optional<double> temperature;
  std::optional<uint64_t> seed;
};

// Writes reply text, switching style around the thinking part.
class ReplyPrinter {
 public:
  explicit ReplyPrinter(bool tty) : tty_(tty) {}
  void write(const std::string& text) {
    size_t pos = 0;
    while (pos < text.size()) {
      const std::string marker = thinking_ ? "</think>" : "<think>";
      size_t at = text.find(marker, pos);
      emit(text.substr(pos, at == std::string::npos ? std::string::npos : at - pos));
      if (at == std::string::npos) break;
      thinking_ = !thinking_;
      if (tty_) std::fputs(thinking_ ? "\033[2m" : "\033[0m", stdout);
      else std::fputs(thinking_ ? "[thinking] " : " [/thinking] ", stdout);
      pos = at + marker.size();
    }
    std::fflush(stdout);
  }
  void end() {
    if (tty_ && thinking_) std::fputs("\033[0m", stdout);
    thinking_ = false;
    std::fputc('\n', stdout);
  }

 private:
  void emit(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
  bool tty_;
  bool thinking_ = false;
};

int run_chat(const GlobalOptions& global, const ChatOptions& o) {
  ModelSession s = ModelSession::open(global, o.deploy, o.model_dir, /*require_tokenizer=*/true, /*slots=*/1);
  if (!s.tok->has_chat_template()) throw unsupported(o.model_dir + ": the tokenizer has no chat template");
  const bool tty = isatty(fileno(stdin)) && isatty(fileno(stdout));
  std::vector<tokenizer::ChatMessage> messages;
  auto reset = [&] {
    messages.clear();
    if (!o.system.empty()) messages.push_back(tokenizer::text_message("system", o.system));
  };
  reset();
  if (tty) std::fprintf(stderr, "fathom chat — /reset to start over, /exit to quit\n");

  std::string line;
  while (true) {
    if (tty) std::fputs("\n> ", stdout), std::fflush(stdout);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      reset();
      std::fputs("(conversation cleared)\n", stdout);
      continue;
    }
    if (line.empty()) continue;
    messages.push_back(tokenizer::text_message("user", line));
    engine::GenerationRequest req;
    req.prompt = to_model_ids(s.tok->encode(s.tok->render_chat(messages, true), /*add_special_tokens=*/false));
    req.sampling = sampling_from(s.config.generation);
    if (o.temperature) req.sampling.temperature = *o.temperature;
    if (o.seed) req.sampling.seed = *o.seed;
    req.max_new_tokens = std::min<int64_t>(s.config.generation.max_new_tokens,
                                           s.config.runtime.max_seq_len - static_cast<int64_t>(req.prompt.size()));
    if (req.max_new_tokens < 1) {
      std::fputs("(the conversation no longer fits in runtime.max_seq_len: /reset to start over)\n", stdout);
      messages.pop_back();
      continue;
    }
    ReplyPrinter printer(tty);
    std::string reply, error;
    bool done = false;
    s.engine->submit(std::move(req), [&](const engine::TokenEvent& e) {
      reply += e.text;
      printer.write(e.text);
      if (e.finished) {
        done = true;
        if (e.reason == engine::FinishReason::error) error = e.error;
      }
    });
    while (!done) s.engine->step();
    printer.end();
    if (!error.empty()) {
      std::fprintf(stderr, "fathom: generation failed: %s\n", error.c_str());
      messages.pop_back();
      continue;
    }
    messages.push_back(tokenizer::text_message("assistant", reply));
  }
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("chat", "Interactive chat in the terminal (/reset, /exit)");
  auto o = std::make_shared<ChatOptions>();
  o->deploy.add_to(*cmd);
  o->deploy.add_speculative_to(*cmd);
  o->deploy.add_chat_template_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory or GGUF file")->required();
  cmd->add_option("--system", o->system, "a system prompt (DeepSeek-R1 recommends none)");
  cmd->add_option("--temperature", o->temperature, "0 = greedy (default: generation.temperature)");
  cmd->add_option("--seed", o->seed, "fixed seed");
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_chat(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
