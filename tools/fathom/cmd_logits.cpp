// `fathom logits`: the model's logits for given token ids, as JSON — the golden-test interface.
//   default   one prefill of all ids (naive MLA)
//   --decode  one id at a time through the KV cache (absorbed MLA)
//   --mtp     the MTP head's logits: row p pairs the main model's hidden at p with ids[p+1]
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>

#include "cli_common.h"
#include "fathom/core/error.h"
#include "fathom/engine/loaded_model.h"

namespace fathom::cli {
namespace {

void print_matrix(const std::vector<float>& values, size_t rows, size_t cols) {
  std::string out = "{\"shape\":[" + std::to_string(rows) + "," + std::to_string(cols) + "],\"logits\":[";
  char buf[32];
  for (size_t r = 0; r < rows; ++r) {
    out += r ? ",[" : "[";
    for (size_t c = 0; c < cols; ++c) {
      std::snprintf(buf, sizeof buf, c ? ",%.9g" : "%.9g", values[r * cols + c]);
      out += buf;
    }
    out += "]";
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

struct LogitsOptions {
  DeploymentOptions deploy;
  std::string model_dir;
  std::string ids;
  bool decode = false;
  bool mtp = false;
};

int run_logits(const GlobalOptions& global, const LogitsOptions& o) {
  Config config = o.deploy.load(global);
  PluginHost host = o.deploy.make_host(config);
  const std::vector<int32_t> ids = parse_token_ids(o.ids, "--ids");
  const auto n = static_cast<int64_t>(ids.size());
  if (n > config.runtime.max_seq_len) {
    throw out_of_range("--ids: " + std::to_string(n) + " tokens exceed runtime.max_seq_len " +
                       std::to_string(config.runtime.max_seq_len));
  }
  engine::ModelOptions options;
  options.max_seq_len = config.runtime.max_seq_len;
  options.load_mtp = o.mtp;
  engine::LoadedModel model(o.model_dir, config, host, options);
  const size_t vocab = static_cast<size_t>(model.spec().vocab_size);

  std::vector<int32_t> positions(ids.size()), slots(ids.size(), 0);
  std::iota(positions.begin(), positions.end(), 0);
  if (o.decode) {
    std::vector<float> rows;
    for (size_t t = 0; t < ids.size(); ++t) {
      engine::TokenBatch step{std::span(ids).subspan(t, 1), std::span(positions).subspan(t, 1), std::span(slots).subspan(t, 1)};
      auto r = model.forward(step, engine::AttentionForm::absorbed);
      rows.insert(rows.end(), r.logits.begin(), r.logits.end());
    }
    print_matrix(rows, ids.size(), vocab);
    return 0;
  }
  auto result = model.forward({ids, positions, slots}, engine::AttentionForm::naive);
  if (!o.mtp) {
    print_matrix(result.logits, ids.size(), vocab);
    return 0;
  }
  if (ids.size() < 2) throw invalid_argument("--mtp needs at least two ids (row p predicts from ids[p+1])");
  const size_t rows = ids.size() - 1, d = static_cast<size_t>(model.spec().hidden_size);
  // The MTP module has its own cache, in slot 0 like the main model's.
  engine::TokenBatch shifted{std::span(ids).subspan(1), std::span(positions).subspan(0, rows), std::span(slots).subspan(0, rows)};
  auto mtp = model.mtp_forward(shifted, std::span(result.hidden).subspan(0, rows * d));
  print_matrix(mtp.logits, rows, vocab);
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("logits", "Print the model's logits for token ids as JSON {\"shape\":[T,V],\"logits\":[[...]]}");
  auto o = std::make_shared<LogitsOptions>();
  o->deploy.add_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory (config.json + safetensors) or GGUF file")->required();
  cmd->add_option("--ids", o->ids, "comma-separated token ids, e.g. 3,17,42")->required();
  cmd->add_flag("--decode", o->decode, "feed the ids one at a time through the KV cache (absorbed attention)");
  cmd->add_flag("--mtp", o->mtp, "print the MTP module's logits instead (T-1 rows)");
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_logits(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
