// `fathom bench`: prefill and decode throughput on random prompts, peak memory, and where the
// time goes (per op kind and backend). Greedy, EOS ignored, so every run does the same work.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <iostream>
#include <map>
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
  int64_t nodes = 0;  // list the slowest nodes of the decode steps
};

uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

using Clock = std::chrono::steady_clock;

// A node's decode-phase share: its time after the prefill step, per decode step.
struct DecodeNode {
  engine::LoadedModel::NodeTime t;
  double ms_per_step = 0;
  double gb_per_s = 0;  // weight bytes read per call ÷ time per call (matmuls only: they read all their weights)
};

std::vector<DecodeNode> slowest_decode_nodes(const std::vector<engine::LoadedModel::NodeTime>& before,
                                             const std::vector<engine::LoadedModel::NodeTime>& after, int64_t steps,
                                             int64_t count) {
  std::map<std::string, engine::LoadedModel::NodeTime> at_prefill;
  for (const auto& t : before) at_prefill[t.node] = t;
  std::vector<DecodeNode> out;
  for (const auto& t : after) {
    engine::LoadedModel::NodeTime d = t;
    if (auto it = at_prefill.find(t.node); it != at_prefill.end()) {
      d.calls -= it->second.calls;
      d.total_ms -= it->second.total_ms;
    }
    if (d.calls == 0) continue;
    const double ms_per_call = d.total_ms / static_cast<double>(d.calls);
    const double gbps = d.op == "matmul" && ms_per_call > 0 ? static_cast<double>(d.weight_bytes) / (ms_per_call * 1e6) : 0;
    out.push_back({d, d.total_ms / static_cast<double>(std::max<int64_t>(steps, 1)), gbps});
  }
  std::sort(out.begin(), out.end(), [](const DecodeNode& a, const DecodeNode& b) { return a.ms_per_step > b.ms_per_step; });
  if (static_cast<int64_t>(out.size()) > count) out.resize(static_cast<size_t>(count));
  return out;
}

// The time an op kind spent in the prefill step (the first), so that decode's share is the rest.
template <typename OpTimes, typename OpTime>
double prefill_ms_of(const OpTimes& prefill_ops, const OpTime& t) {
  for (const auto& p : prefill_ops) {
    if (p.op == t.op && p.backend == t.backend) return p.total_ms;
  }
  return 0;
}

// Per place in a step's drafts: how many were verified and accepted.
nlohmann::json drafts_by_place(const engine::SpeculationStats& spec) {
  nlohmann::json places = nlohmann::json::array();
  for (size_t j = 0; j < spec.drafted_at.size(); ++j) {
    places.push_back({{"drafted", spec.drafted_at[j]}, {"accepted", spec.accepted_at[j]}});
  }
  return places;
}

int run_bench(const GlobalOptions& global, const BenchOptions& o) {
  const auto load_start = Clock::now();
  // Whole prompts in one step: the prefill figure is the engine's prefill throughput, not a mix of
  // prefill chunks and decode steps.
  DeploymentOptions deploy = o.deploy;
  deploy.prefill_chunk = 0;
  ModelSession s = ModelSession::open(global, deploy, o.model_dir, /*require_tokenizer=*/false, /*slots=*/o.batch);
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  if (o.prompt_tokens + o.gen_tokens > s.config.runtime.max_seq_len) {
    throw out_of_range("--prompt-tokens + --gen-tokens exceed runtime.max_seq_len " + std::to_string(s.config.runtime.max_seq_len));
  }
  const auto vocab = static_cast<int32_t>(s.model->spec().vocab_size);
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> token(0, vocab - 1);
  int64_t finished = 0, started = 0;
  for (int64_t b = 0; b < o.batch; ++b) {
    engine::GenerationRequest req;
    for (int64_t i = 0; i < o.prompt_tokens; ++i) req.prompt.push_back(token(rng));
    req.sampling.temperature = 0;
    req.max_new_tokens = o.gen_tokens;
    req.ignore_eos = true;
    s.engine->submit(std::move(req), [&](const engine::TokenEvent& e) {
      if (e.token && e.completion_tokens == 1) ++started;
      if (e.finished) {
        ++finished;
        if (e.reason == engine::FinishReason::error) throw Error(ErrorCode::internal, "bench: " + e.error);
      }
    });
  }
  // The first step admits every request and prefills all prompts (each gets its first token); the
  // remaining steps are batched decodes.
  auto t0 = Clock::now();
  while (started < o.batch && finished < o.batch) s.engine->step();
  auto t1 = Clock::now();
  const auto prefill_ops = s.model->op_times();
  const auto prefill_nodes = s.model->node_times();
  while (finished < o.batch) s.engine->step();
  auto t2 = Clock::now();

  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  const double prefill_tps = static_cast<double>(o.prompt_tokens * o.batch) / prefill_s;
  const double decode_tps = decode_s > 0 ? static_cast<double>((o.gen_tokens - 1) * o.batch) / decode_s : 0;
  auto ops = s.model->op_times();
  // Decode steps run: gen_tokens − 1 without speculation, fewer with it.
  const engine::SpeculationStats spec = s.engine->speculation_stats();
  const auto decode_steps = static_cast<int64_t>(spec.steps);
  const auto nodes = o.nodes > 0 ? slowest_decode_nodes(prefill_nodes, s.model->node_times(), decode_steps, o.nodes)
                                 : std::vector<DecodeNode>{};
  const double acceptance = spec.drafted ? static_cast<double>(spec.accepted) / static_cast<double>(spec.drafted) : 0;

  std::vector<std::string> chain;
  for (const auto& b : s.model->backends()) chain.push_back(b->name());
  const std::string backends = backend_names(s.model->backends());
  if (o.json) {
    nlohmann::json j{{"model", o.model_dir},
                     {"backends", chain},
                     {"prompt_tokens", o.prompt_tokens},
                     {"gen_tokens", o.gen_tokens},
                     {"batch", o.batch},
                     {"load_seconds", load_s},
                     {"prefill_seconds", prefill_s},
                     {"decode_seconds", decode_s},
                     {"prefill_tokens_per_s", prefill_tps},
                     {"decode_tokens_per_s", decode_tps},
                     {"decode_steps", decode_steps},
                     {"speculative", s.config.runtime.speculative},
                     {"speculative_tokens", s.engine->limits().speculative_tokens},
                     {"drafts", spec.drafted},
                     {"drafts_accepted", spec.accepted},
                     {"drafts_by_place", drafts_by_place(spec)},
                     {"peak_rss_bytes", peak_rss_bytes()},
                     {"kv_cache_bytes", s.model->kv_cache_bytes()}};
    j["ops"] = nlohmann::json::array();
    for (const auto& t : ops) {
      j["ops"].push_back({{"op", t.op}, {"backend", t.backend}, {"calls", t.calls}, {"total_ms", t.total_ms},
                          {"prefill_ms", prefill_ms_of(prefill_ops, t)}});
    }
    j["decode_nodes"] = nlohmann::json::array();
    for (const auto& n : nodes) {
      j["decode_nodes"].push_back({{"node", n.t.node}, {"op", n.t.op}, {"backend", n.t.backend}, {"calls", n.t.calls},
                                   {"ms_per_step", n.ms_per_step}, {"weight_bytes", n.t.weight_bytes},
                                   {"weight_gb_per_s", n.gb_per_s}});
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("model %s on [%s], batch %lld, %lld prompt + %lld generated tokens\n", o.model_dir.c_str(), backends.c_str(),
              static_cast<long long>(o.batch), static_cast<long long>(o.prompt_tokens), static_cast<long long>(o.gen_tokens));
  std::printf("load:    %10.3f s (config, weights, placement, compile)\n", load_s);
  std::printf("prefill: %10.1f tokens/s  (%.3f s)\n", prefill_tps, prefill_s);
  std::printf("decode:  %10.1f tokens/s  (%.3f s, %lld steps)\n", decode_tps, decode_s, static_cast<long long>(decode_steps));
  if (s.config.runtime.speculative != "off") {
    std::printf("speculative (%s, up to %lld drafts per step): %llu of %llu drafts accepted (%.1f %%)\n",
                s.config.runtime.speculative.c_str(), static_cast<long long>(s.engine->limits().speculative_tokens),
                static_cast<unsigned long long>(spec.accepted), static_cast<unsigned long long>(spec.drafted),
                100 * acceptance);
    if (spec.drafted_at.size() > 1) {
      std::printf("  accepted by place in a step's drafts:");
      for (size_t j = 0; j < spec.drafted_at.size(); ++j) {
        std::printf(" %zu: %.1f %% (%llu/%llu)", j + 1,
                    100.0 * static_cast<double>(spec.accepted_at[j]) / static_cast<double>(spec.drafted_at[j]),
                    static_cast<unsigned long long>(spec.accepted_at[j]), static_cast<unsigned long long>(spec.drafted_at[j]));
      }
      std::printf("\n");
    }
  }
  std::printf("peak RSS: %.1f MiB (KV cache %.1f MiB: %lld slot%s of %lld positions, %s)\n\n",
              static_cast<double>(peak_rss_bytes()) / (1 << 20), static_cast<double>(s.model->kv_cache_bytes()) / (1 << 20),
              static_cast<long long>(s.config.runtime.max_batch), s.config.runtime.max_batch == 1 ? "" : "s",
              static_cast<long long>(s.config.runtime.max_seq_len), std::string(dtype_name(s.config.runtime.kv_cache_dtype)).c_str());
  std::printf("%-16s %-14s %10s %12s %12s\n", "op", "backend", "calls", "total ms", "prefill ms");
  for (const auto& t : ops) {
    const double pre = prefill_ms_of(prefill_ops, t);
    std::printf("%-16s %-14s %10llu %12.2f %12.2f\n", t.op.c_str(), t.backend.c_str(), static_cast<unsigned long long>(t.calls),
                t.total_ms, pre);
  }
  if (!nodes.empty()) {
    std::printf("\nslowest nodes of the decode steps (GB/s: weights read per call, matmuls only)\n");
    std::printf("%-44s %-14s %-10s %12s %10s %8s\n", "node", "op", "backend", "ms/step", "weight MB", "GB/s");
    for (const auto& n : nodes) {
      // A rate only where every weight is read once per call (an experts' node reads the routed few).
      char rate[16] = "-";
      if (n.t.op == "matmul") std::snprintf(rate, sizeof rate, "%.2f", n.gb_per_s);
      std::printf("%-44s %-14s %-10s %12.3f %10.1f %8s\n", n.t.node.c_str(), n.t.op.c_str(), n.t.backend.c_str(),
                  n.ms_per_step, static_cast<double>(n.t.weight_bytes) / 1e6, rate);
    }
  }
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("bench", "Measure prefill and decode tokens/s and the time per op and backend");
  auto o = std::make_shared<BenchOptions>();
  o->deploy.add_to(*cmd);
  o->deploy.add_speculative_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory or GGUF file")->required();
  cmd->add_option("--prompt-tokens", o->prompt_tokens, "random prompt length")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--gen-tokens", o->gen_tokens, "tokens to generate per sequence")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--batch", o->batch, "sequences at once")->check(CLI::Range(1, 4096));
  cmd->add_option("--seed", o->seed, "seed of the random prompts");
  cmd->add_flag("--json", o->json, "one JSON object instead of the table");
  cmd->add_option("--nodes", o->nodes, "also list the N slowest nodes of the decode steps (ms per step, weight GB/s)")
      ->check(CLI::Range(0, 100000));
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_bench(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
