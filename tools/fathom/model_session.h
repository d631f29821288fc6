// Everything a generating command needs: config, plugins, tokenizer, the loaded model and the
// engine, loaded with a progress bar on a terminal (a plain line per stage otherwise).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli_common.h"
#include "fathom/engine/engine.h"
#include "fathom/engine/loaded_model.h"
#include "fathom/tokenizer/tokenizer.h"

namespace fathom::cli {

struct ModelSession {
  Config config;
  std::unique_ptr<PluginHost> host;
  std::optional<tokenizer::Tokenizer> tok;
  std::unique_ptr<engine::LoadedModel> model;
  std::unique_ptr<engine::Engine> engine;

  // `require_tokenizer`: text in or out needs one; throws not_found naming the directory.
  // `slots`: sequences at once, and so KV-cache slots, for a command that knows how many it runs
  // (run and chat: 1, bench: --batch): the cache is sized for those, not for runtime.max_batch,
  // which is the server's (and perplexity's) concurrency. Unset: runtime.max_batch.
  static ModelSession open(const GlobalOptions& global, const DeploymentOptions& deploy, const std::string& model_dir,
                           bool require_tokenizer, std::optional<int64_t> slots = std::nullopt);
};

// Tokenizer ids (unsigned) as the engine's token ids.
std::vector<int32_t> to_model_ids(const std::vector<tokenizer::TokenId>& ids);

// Sampling defaults from [generation], for commands to override.
engine::SamplingParams sampling_from(const GenerationConfig& g);

}  // namespace fathom::cli
