#include "model_session.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "fathom/core/error.h"
#include "fathom/model/gguf.h"

namespace fathom::cli {

namespace {

// A one-line progress bar on a terminal; one plain line per stage when stderr is a file or pipe.
std::function<void(const std::string&, size_t, size_t)> progress_printer() {
  const bool tty = isatty(fileno(stderr)) != 0;
  auto last_stage = std::make_shared<std::string>();
  return [tty, last_stage](const std::string& stage, size_t done, size_t total) {
    if (!tty) {
      if (stage != *last_stage) std::fprintf(stderr, "loading: %s\n", stage.c_str());
      *last_stage = stage;
      return;
    }
    const int width = 30;
    const int filled = total ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r\033[K[%.*s%*s] %s %zu/%zu", filled, "##############################", width - filled, "",
                 stage.c_str(), done, total);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

}  // namespace

std::vector<int32_t> to_model_ids(const std::vector<tokenizer::TokenId>& ids) {
  return std::vector<int32_t>(ids.begin(), ids.end());
}

engine::SamplingParams sampling_from(const GenerationConfig& g) {
  engine::SamplingParams p;
  p.temperature = g.temperature;
  p.top_p = g.top_p;
  p.top_k = g.top_k;
  p.min_p = g.min_p;
  p.repetition_penalty = g.repetition_penalty;
  p.presence_penalty = g.presence_penalty;
  p.frequency_penalty = g.frequency_penalty;
  if (g.seed) p.seed = static_cast<uint64_t>(*g.seed);
  return p;
}

ModelSession ModelSession::open(const GlobalOptions& global, const DeploymentOptions& deploy, const std::string& model_dir,
                                bool require_tokenizer, std::optional<int64_t> slots) {
  ModelSession s;
  s.config = deploy.load(global);
  if (slots) s.config.runtime.max_batch = *slots;
  s.host = std::make_unique<PluginHost>(deploy.make_host(s.config));
  const std::filesystem::path dir(model_dir);
  if (std::filesystem::exists(dir / "tokenizer.json") || model::is_gguf_file(dir)) {
    s.tok = tokenizer::Tokenizer::load(dir);
  } else if (require_tokenizer) {
    throw not_found(model_dir + ": no tokenizer.json (text in and out needs the model's tokenizer)");
  }
  if (!deploy.chat_template.empty()) {
    if (!s.tok) throw not_found(model_dir + ": no tokenizer.json, so --chat-template has nothing to render with");
    s.tok->use_chat_template_file(deploy.chat_template);
  }
  engine::ModelOptions options;
  options.n_slots = s.config.runtime.max_batch;
  options.max_seq_len = s.config.runtime.max_seq_len;
  options.progress = progress_printer();
  const std::string& method = s.config.runtime.speculative;
  options.load_mtp = method == "mtp";
  s.model = std::make_unique<engine::LoadedModel>(dir, s.config, *s.host, options);
  engine::EngineLimits limits{s.config.runtime.max_batch, s.config.runtime.max_seq_len, s.config.server.max_queue,
                              s.config.runtime.speculative_max_batch, s.config.runtime.speculative_tokens,
                              s.config.runtime.prefill_chunk, s.config.runtime.prefix_caching};
  const engine::Speculation speculation = method == "mtp"     ? engine::Speculation::mtp
                                          : method == "ngram" ? engine::Speculation::ngram
                                                              : engine::Speculation::off;
  s.engine = std::make_unique<engine::Engine>(*s.model, s.tok ? &*s.tok : nullptr, limits, speculation);
  return s;
}

}  // namespace fathom::cli
