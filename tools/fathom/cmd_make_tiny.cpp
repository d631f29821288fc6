// `fathom make-tiny`: writes a DeepSeek-architecture checkpoint with seeded random weights and a
// tokenizer — the demo model of the README, and the benchmark models (--preset v2-lite-shape).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli_common.h"
#include "fathom/core/error.h"
#include "fathom/tokenizer/tokenizer.h"
#include "make_tiny/tiny_model.h"
#include "make_tiny/tiny_tokenizer.h"

namespace fathom::cli {
namespace {

struct MakeTinyOptions {
  std::string out;
  bool fp8 = false;
  std::string preset = "tiny";
  int64_t layers = 0;
  uint64_t seed = 0;
  std::string tokenizer;
  int64_t mtp = -1;
  bool markov = false;
};

int run_make_tiny(const MakeTinyOptions& o) {
  namespace fs = std::filesystem;
  fs::create_directories(o.out);
  tools::TinyModelOptions m{o.preset, o.layers, o.fp8, o.seed, 0, 0, 1, {}, o.mtp, o.markov};
  if (o.tokenizer.empty()) {
    auto info = tools::write_tiny_tokenizer(o.out);
    m.vocab_size = info.vocab_size;
    m.bos_id = info.bos_id;
    m.eos_id = info.eos_id;
    m.favoured_ids = info.printable_ids;
  } else {
    // The real tokenizer: copy its files (a directory, or a tokenizer.json beside a config).
    fs::path src = o.tokenizer;
    fs::path dir = fs::is_directory(src) ? src : src.parent_path();
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      if (fs::exists(dir / f)) fs::copy_file(dir / f, fs::path(o.out) / f, fs::copy_options::overwrite_existing);
    }
    auto tok = tokenizer::Tokenizer::load(o.out);
    m.vocab_size = static_cast<int64_t>(tok.id_limit());
    m.bos_id = tok.bos_id().value_or(0);
    m.eos_id = tok.eos_id().value_or(1);
  }
  {
    std::ofstream cfg(fs::path(o.out) / "config.json");
    if (!cfg) throw io_error("cannot write '" + (fs::path(o.out) / "config.json").string() + "'");
    cfg << tools::tiny_model_config(m).dump(2) << "\n";
  }
  tools::write_tiny_weights(o.out, m);
  std::cerr << "wrote " << o.preset << (o.fp8 ? " (fp8)" : "") << " model to " << o.out << "\n";
  return 0;
}

void setup(CLI::App& root, GlobalOptions&, CommandRunner& run) {
  auto* cmd = root.add_subcommand("make-tiny", "Write a DeepSeek-architecture checkpoint with seeded random weights");
  auto o = std::make_shared<MakeTinyOptions>();
  cmd->add_option("--out", o->out, "output directory")->required();
  cmd->add_flag("--fp8", o->fp8, "FP8 e4m3 weights with 128x128 block scales, as DeepSeek-V3 ships");
  cmd->add_option("--preset", o->preset, "tiny (default), v2-lite-shape or v3-shape")
      ->check(CLI::IsMember({"tiny", "v2-lite-shape", "v3-shape"}));
  cmd->add_option("--layers", o->layers, "decoder layers (default: the preset's)")->check(CLI::Range(1, 200));
  cmd->add_option("--seed", o->seed, "random seed (same seed, same files)");
  cmd->add_option("--mtp", o->mtp, "MTP modules, 0 or 1 (default: the preset's; tiny and v3-shape have one)")
      ->check(CLI::Range(0, 1));
  cmd->add_flag("--markov", o->markov,
                "scale the layers' outputs down so that the next token depends mostly on the current one, and "
                "make the MTP module pass the next token through: its drafts then mostly agree with the model "
                "(for speculative-decoding tests and benchmarks)");
  cmd->add_option("--tokenizer", o->tokenizer, "use this tokenizer (a model directory or tokenizer.json) instead of the small byte-level one");
  cmd->callback([&run, o] { run = [o] { return run_make_tiny(*o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
