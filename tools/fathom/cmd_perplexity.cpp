// `fathom perplexity`: how well the model predicts a text — the exponential of the mean negative
// log-likelihood of its tokens — the number llama.cpp's llama-perplexity and Hugging Face's
// "perplexity of fixed-length models" recipe report.
//
// The tokens (the text encoded with BOS, or --ids) are cut into windows of --context tokens that
// start every --stride tokens (Hugging Face's sliding window). A window scores only the tokens no
// earlier window scored, with the rest of the window as their context; a token at the very start
// of a window has no context and is not scored. With stride = context the windows do not overlap.
// Each window runs as a prompt the engine scores (prompt_logprobs, no tokens generated),
// runtime.max_batch windows at once.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "model_session.h"

namespace fathom::cli {
namespace {

struct PerplexityOptions {
  DeploymentOptions deploy;
  std::string model_dir;
  std::string file;
  std::string ids;
  int64_t context = 512;
  std::optional<int64_t> stride;
  bool json = false;
};

struct Window {
  size_t begin = 0, end = 0;  // token positions
  size_t first_scored = 0;    // the first position it scores (> begin)
};

std::vector<Window> plan_windows(size_t tokens, size_t context, size_t stride) {
  std::vector<Window> windows;
  size_t scored_up_to = 1;  // the first token is never scored
  for (size_t begin = 0; scored_up_to < tokens; begin += stride) {
    const size_t end = std::min(begin + context, tokens);
    windows.push_back({begin, end, std::max(scored_up_to, begin + 1)});
    scored_up_to = end;
  }
  return windows;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw not_found("--file " + path + ": cannot open it");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int run_perplexity(const GlobalOptions& global, const PerplexityOptions& o) {
  if (o.file.empty() == o.ids.empty()) throw invalid_argument("give the text to score with --file, or token ids with --ids");
  // The input first: a missing file should not wait for the model to load.
  const std::string text = o.file.empty() ? std::string() : read_text(o.file);
  const std::vector<int32_t> ids = o.file.empty() ? parse_token_ids(o.ids, "--ids") : std::vector<int32_t>();
  ModelSession s = ModelSession::open(global, o.deploy, o.model_dir, /*require_tokenizer=*/!o.file.empty());
  const std::vector<int32_t> tokens = o.file.empty() ? ids : to_model_ids(s.tok->encode(text, true));
  const int64_t stride = o.stride.value_or(o.context);
  if (o.context < 2 || o.context > s.config.runtime.max_seq_len) {
    throw invalid_argument("--context " + std::to_string(o.context) + ": must be between 2 and runtime.max_seq_len (" +
                           std::to_string(s.config.runtime.max_seq_len) + ")");
  }
  if (stride < 1 || stride > o.context) {
    throw invalid_argument("--stride " + std::to_string(stride) + ": must be between 1 and --context (" +
                           std::to_string(o.context) + ")");
  }
  if (tokens.size() < 2) throw invalid_argument("nothing to score: the text is " + std::to_string(tokens.size()) + " token(s)");

  const std::vector<Window> windows = plan_windows(tokens.size(), static_cast<size_t>(o.context), static_cast<size_t>(stride));
  engine::Engine& engine = *s.engine;
  double nll = 0;
  size_t scored = 0, next = 0, done = 0;
  std::string failure;
  const auto start = std::chrono::steady_clock::now();
  while (done < windows.size()) {
    // Keep the engine's queue topped up; it runs max_batch windows at a time.
    while (next < windows.size() && engine.waiting() < static_cast<size_t>(engine.limits().max_queue)) {
      const Window w = windows[next++];
      engine::GenerationRequest r;
      r.prompt.assign(tokens.begin() + static_cast<std::ptrdiff_t>(w.begin), tokens.begin() + static_cast<std::ptrdiff_t>(w.end));
      r.max_new_tokens = 0;
      r.prompt_logprobs = 0;
      engine.submit(std::move(r), [&, w](const engine::TokenEvent& e) {
        if (!e.finished) return;
        ++done;
        if (e.reason == engine::FinishReason::error) failure = e.error;
        // prompt_logprobs[j] scores window token j + 1.
        for (size_t p = w.first_scored; p < w.end && p - w.begin - 1 < e.prompt_logprobs.size(); ++p) {
          nll -= e.prompt_logprobs[p - w.begin - 1].logprob;
          ++scored;
        }
      });
    }
    engine.step();
    if (!failure.empty()) throw Error(ErrorCode::internal, "scoring failed: " + failure);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mean = nll / static_cast<double>(scored);
  if (o.json) {
    const nlohmann::json out = {{"perplexity", std::exp(mean)}, {"mean_nll", mean},  {"tokens_scored", scored},
                                {"tokens", tokens.size()},      {"windows", windows.size()}, {"context", o.context},
                                {"stride", stride},             {"seconds", seconds}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("perplexity %.4f (mean negative log-likelihood %.4f nats over %zu tokens; %zu windows of at most %lld, stride %lld)\n",
                std::exp(mean), mean, scored, windows.size(), static_cast<long long>(o.context), static_cast<long long>(stride));
    std::printf("%.2f s, %.1f tokens/s\n", seconds, static_cast<double>(scored) / seconds);
  }
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("perplexity", "Perplexity of a text under the model (sliding windows, as Hugging Face computes it)");
  auto o = std::make_shared<PerplexityOptions>();
  o->deploy.add_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory or GGUF file")->required();
  cmd->add_option("--file", o->file, "the text to score (UTF-8; encoded with BOS)");
  cmd->add_option("--ids", o->ids, "or token ids to score, comma-separated");
  cmd->add_option("--context", o->context, "window length in tokens (default 512)");
  cmd->add_option("--stride", o->stride, "tokens between window starts (default: --context, windows that do not overlap)");
  cmd->add_flag("--json", o->json, "one JSON object instead of the text");
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_perplexity(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
