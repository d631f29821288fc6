// `fathom bench`: prefill and decode throughput on random prompts, peak memory, and where the
// time goes (per op kind and backend). Greedy, EOS ignored, so every run does the same work.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "model_session.h"

namespace fathom::cli {
namespace {

struct BenchOptions {
  DeploymentOptions deploy;
  std::string model_dir;
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 32;
  int64_t batch = 1;
  uint64_t seed = 0;
  bool json = false;
};

uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

using Clock = std::chrono::steady_clock;

// The time an op kind spent in the prefill step (the first), so that decode's share is the rest.
template <typename OpTimes, typename OpTime>
double prefill_ms_of(const OpTimes& prefill_ops, const OpTime& t) {
  for (const auto& p : prefill_ops) {
    if (p.op == t.op && p.backend == t.backend) return p.total_ms;
  }
  return 0;
}

int run_bench(const GlobalOptions& global, const BenchOptions& o) {
  ModelSession s = ModelSession::open(global, o.deploy, o.model_dir, /*require_tokenizer=*/false, o.batch);
  if (o.prompt_tokens + o.gen_tokens > s.config.runtime.max_seq_len) {
    throw out_of_range("--prompt-tokens + --gen-tokens exceed runtime.max_seq_len " + std::to_string(s.config.runtime.max_seq_len));
  }
  const auto vocab = static_cast<int32_t>(s.model->spec().vocab_size);
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> token(0, vocab - 1);
  int64_t finished = 0;
  for (int64_t b = 0; b < o.batch; ++b) {
    engine::GenerationRequest req;
    for (int64_t i = 0; i < o.prompt_tokens; ++i) req.prompt.push_back(token(rng));
    req.sampling.temperature = 0;
    req.max_new_tokens = o.gen_tokens;
    req.ignore_eos = true;
    s.engine->submit(std::move(req), [&](const engine::TokenEvent& e) {
      if (e.finished) {
        ++finished;
        if (e.reason == engine::FinishReason::error) throw Error(ErrorCode::internal, "bench: " + e.error);
      }
    });
  }
  // Step 1 admits every request and prefills all prompts (each gets its first token); the
  // remaining steps are batched decodes.
  auto t0 = Clock::now();
  s.engine->step();
  auto t1 = Clock::now();
  const auto prefill_ops = s.model->op_times();
  while (finished < o.batch) s.engine->step();
  auto t2 = Clock::now();

  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  const double prefill_tps = static_cast<double>(o.prompt_tokens * o.batch) / prefill_s;
  const double decode_tps = decode_s > 0 ? static_cast<double>((o.gen_tokens - 1) * o.batch) / decode_s : 0;
  auto ops = s.model->op_times();

  std::string backends;
  for (const auto& b : s.config.runtime.backends) backends += (backends.empty() ? "" : ",") + b;
  if (o.json) {
    nlohmann::json j{{"model", o.model_dir},
                     {"backends", s.config.runtime.backends},
                     {"prompt_tokens", o.prompt_tokens},
                     {"gen_tokens", o.gen_tokens},
                     {"batch", o.batch},
                     {"prefill_seconds", prefill_s},
                     {"decode_seconds", decode_s},
                     {"prefill_tokens_per_s", prefill_tps},
                     {"decode_tokens_per_s", decode_tps},
                     {"peak_rss_bytes", peak_rss_bytes()}};
    j["ops"] = nlohmann::json::array();
    for (const auto& t : ops) {
      j["ops"].push_back({{"op", t.op}, {"backend", t.backend}, {"calls", t.calls}, {"total_ms", t.total_ms},
                          {"prefill_ms", prefill_ms_of(prefill_ops, t)}});
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("model %s on [%s], batch %lld, %lld prompt + %lld generated tokens\n", o.model_dir.c_str(), backends.c_str(),
              static_cast<long long>(o.batch), static_cast<long long>(o.prompt_tokens), static_cast<long long>(o.gen_tokens));
  std::printf("prefill: %10.1f tokens/s  (%.3f s)\n", prefill_tps, prefill_s);
  std::printf("decode:  %10.1f tokens/s  (%.3f s)\n", decode_tps, decode_s);
  std::printf("peak RSS: %.1f MiB\n\n", static_cast<double>(peak_rss_bytes()) / (1 << 20));
  std::printf("%-16s %-14s %10s %12s %12s\n", "op", "backend", "calls", "total ms", "prefill ms");
  for (const auto& t : ops) {
    const double pre = prefill_ms_of(prefill_ops, t);
    std::printf("%-16s %-14s %10llu %12.2f %12.2f\n", t.op.c_str(), t.backend.c_str(), static_cast<unsigned long long>(t.calls),
                t.total_ms, pre);
  }
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("bench", "Measure prefill and decode tokens/s and the time per op and backend");
  auto o = std::make_shared<BenchOptions>();
  o->deploy.add_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory")->required();
  cmd->add_option("--prompt-tokens", o->prompt_tokens, "random prompt length")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--gen-tokens", o->gen_tokens, "tokens to generate per sequence")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--batch", o->batch, "sequences at once")->check(CLI::Range(1, 4096));
  cmd->add_option("--seed", o->seed, "seed of the random prompts");
  cmd->add_flag("--json", o->json, "one JSON object instead of the table");
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_bench(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
