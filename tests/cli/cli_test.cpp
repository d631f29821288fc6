// The `fathom` CLI end to end: each command on real inputs, and bad inputs giving a clear
// message and a non-zero exit status.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

struct Result {
  int status;
  std::string out;  // stdout
  std::string err;  // stderr
};

Result fathom(const std::string& args) {
  static int counter = 0;
  const auto err_file = std::filesystem::temp_directory_path() / ("fathom_cli_err_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  const std::string cmd = std::string(FATHOM_BINARY_DIR) + "/bin/fathom " + args + " 2>" + err_file.string();
  FILE* pipe = popen(cmd.c_str(), "r");
  Result r{-1, {}, {}};
  if (!pipe) return r;
  std::array<char, 65536> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.out.append(buf.data(), n);
  r.status = WEXITSTATUS(pclose(pipe));
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::filesystem::remove(err_file);
  return r;
}

const std::string kFixtures = FATHOM_FIXTURES_DIR;
const std::string kShared = FATHOM_SHARED_DIR;
const std::string kSource = FATHOM_SOURCE_DIR;

TEST(Cli, VersionAndHelp) {
  EXPECT_EQ(fathom("--version").status, 0);
  Result help = fathom("--help");
  EXPECT_EQ(help.status, 0);
  for (const char* cmd : {"backends", "run", "chat", "serve", "bench", "inspect", "logits", "perplexity", "tokenize",
                          "make-tiny"}) {
    EXPECT_NE(help.out.find(cmd), std::string::npos) << cmd << " missing from --help:\n" << help.out;
  }
}

TEST(Cli, LogitsMatchesTheGoldenFile) {
  std::ifstream in(kFixtures + "/deepseek-v3-tiny/golden.json");
  auto golden = nlohmann::json::parse(in)["sequences"][0];
  std::string ids;
  for (int id : golden["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  Result r = fathom("logits --model " + kFixtures + "/deepseek-v3-tiny --ids " + ids);
  ASSERT_EQ(r.status, 0) << r.err;
  auto got = nlohmann::json::parse(r.out);
  ASSERT_EQ(got["shape"][0], golden["ids"].size());
  double max_ref = 0, max_diff = 0;
  for (size_t t = 0; t < golden["logits"].size(); ++t) {
    for (size_t v = 0; v < golden["logits"][t].size(); ++v) {
      double want = golden["logits"][t][v], have = got["logits"][t][v];
      max_ref = std::max(max_ref, std::fabs(want));
      max_diff = std::max(max_diff, std::fabs(want - have));
    }
  }
  EXPECT_LE(max_diff, 1e-4 * max_ref);
}

// Perplexity over one window: the exponential of the mean of −log p(token | tokens before it) under
// transformers' logits from golden.json, taken here in double.
TEST(Cli, PerplexityMatchesTransformers) {
  std::ifstream in(kFixtures + "/deepseek-v3-tiny/golden.json");
  auto golden = nlohmann::json::parse(in)["sequences"][1];
  std::string ids;
  for (int id : golden["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  double nll = 0;
  const size_t n = golden["ids"].size();
  for (size_t p = 1; p < n; ++p) {
    const std::vector<double> row = golden["logits"][p - 1];
    double m = row[0], sum = 0;
    for (double x : row) m = std::max(m, x);
    for (double x : row) sum += std::exp(x - m);
    nll -= row[golden["ids"][p].get<size_t>()] - m - std::log(sum);
  }
  const double want = std::exp(nll / static_cast<double>(n - 1));

  Result r = fathom("perplexity --json --model " + kFixtures + "/deepseek-v3-tiny --ids " + ids);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto got = nlohmann::json::parse(r.out);
  EXPECT_EQ(got["tokens_scored"], n - 1);
  EXPECT_EQ(got["windows"], 1);
  EXPECT_NEAR(got["perplexity"].get<double>(), want, 1e-3 * want);

  // Windows: without overlap each window's first token goes unscored; overlapping windows score
  // every token but the first exactly once.
  Result apart = fathom("perplexity --json --context 8 --model " + kFixtures + "/deepseek-v3-tiny --ids " + ids);
  ASSERT_EQ(apart.status, 0) << apart.err;
  const size_t windows = (n + 7) / 8;
  EXPECT_EQ(nlohmann::json::parse(apart.out)["windows"], windows);
  EXPECT_EQ(nlohmann::json::parse(apart.out)["tokens_scored"], n - windows);
  Result sliding = fathom("perplexity --json --context 8 --stride 3 --model " + kFixtures + "/deepseek-v3-tiny --ids " + ids);
  ASSERT_EQ(sliding.status, 0) << sliding.err;
  EXPECT_EQ(nlohmann::json::parse(sliding.out)["tokens_scored"], n - 1);
  // Less context per token than one whole window: a worse (higher) perplexity.
  EXPECT_GT(nlohmann::json::parse(apart.out)["perplexity"].get<double>(), got["perplexity"].get<double>());

  for (const std::string bad : {"--context 1", "--context 8 --stride 9", "--context 999999"}) {
    Result e = fathom("perplexity " + bad + " --model " + kFixtures + "/deepseek-v3-tiny --ids " + ids);
    EXPECT_NE(e.status, 0) << bad;
    EXPECT_NE(e.err.find(bad.substr(bad.rfind("--"), 8)), std::string::npos) << bad << ": " << e.err;
  }
  Result neither = fathom("perplexity --model " + kFixtures + "/deepseek-v3-tiny");
  EXPECT_NE(neither.status, 0);
  EXPECT_NE(neither.err.find("--file"), std::string::npos) << neither.err;
  Result no_file = fathom("perplexity --model " + kFixtures + "/deepseek-v3-tiny --file /nonexistent/text.txt");
  EXPECT_NE(no_file.status, 0);
  EXPECT_NE(no_file.err.find("/nonexistent"), std::string::npos) << no_file.err;
}

// The KV cache's size: layers × (kv_lora_rank + qk_rope_head_dim) values per slot and position,
// 4 bytes each by default, 2 with runtime.kv_cache_dtype = "bf16".
TEST(Cli, InspectReportsTheKvCacheSize) {
  std::ifstream in(kFixtures + "/deepseek-v3-tiny/config.json");
  const auto config = nlohmann::json::parse(in);
  const int64_t row = config["num_hidden_layers"].get<int64_t>() *
                      (config["kv_lora_rank"].get<int64_t>() + config["qk_rope_head_dim"].get<int64_t>());
  Result f32 = fathom("inspect --model " + kFixtures + "/deepseek-v3-tiny");
  ASSERT_EQ(f32.status, 0) << f32.err;
  EXPECT_NE(f32.out.find("state tensors (KV cache): 3, " + std::to_string(row * 8 * 4096 * 4) + " bytes (f32, 8 slots of 4096 positions)"),
            std::string::npos)
      << f32.out;
  auto dir = std::filesystem::temp_directory_path() / ("fathom_cli_kv_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bf16.toml") << "[runtime]\nkv_cache_dtype = \"bf16\"\nmax_batch = 2\nmax_seq_len = 100\n";
  Result bf16 = fathom("inspect --model " + kFixtures + "/deepseek-v3-tiny --config " + (dir / "bf16.toml").string());
  std::filesystem::remove_all(dir);
  ASSERT_EQ(bf16.status, 0) << bf16.err;
  EXPECT_NE(bf16.out.find("state tensors (KV cache): 3, " + std::to_string(row * 2 * 100 * 2) + " bytes (bf16, 2 slots of 100 positions)"),
            std::string::npos)
      << bf16.out;
  // The same from the command line (--set), and an override's mistake named with it.
  Result set = fathom("inspect --model " + kFixtures +
                      "/deepseek-v3-tiny --set runtime.kv_cache_dtype=bf16 --set runtime.max_batch=2 --set runtime.max_seq_len=100");
  ASSERT_EQ(set.status, 0) << set.err;
  EXPECT_NE(set.out.find("(bf16, 2 slots of 100 positions)"), std::string::npos) << set.out;
  Result wrong = fathom("inspect --model " + kFixtures + "/deepseek-v3-tiny --set runtime.kv_cache_dtype=fp4");
  EXPECT_NE(wrong.status, 0);
  EXPECT_NE(wrong.err.find("--set runtime.kv_cache_dtype=fp4: runtime.kv_cache_dtype: 'fp4' is not one of: f32, bf16"),
            std::string::npos)
      << wrong.err;
}

// `bench` holds as many cache slots as it runs sequences (--batch), whatever runtime.max_batch
// says: the server's concurrency, not a single run's.
TEST(Cli, BenchSizesTheCacheForItsBatch) {
  std::ifstream in(kFixtures + "/deepseek-v3-tiny/config.json");
  const auto config = nlohmann::json::parse(in);
  const int64_t row = config["num_hidden_layers"].get<int64_t>() *
                      (config["kv_lora_rank"].get<int64_t>() + config["qk_rope_head_dim"].get<int64_t>());
  for (int batch : {1, 3}) {
    Result r = fathom("bench --model " + kFixtures + "/deepseek-v3-tiny --prompt-tokens 4 --gen-tokens 2 --json --batch " +
                      std::to_string(batch) + " --set runtime.max_batch=8 --set runtime.max_seq_len=64");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["kv_cache_bytes"].get<int64_t>(), row * batch * 64 * 4) << r.out;
  }
}

// A cache no machine has room for (4096 slots of 2^24 positions: 12 TiB for the tiny model) is
// refused before anything is allocated, with what to lower; never a crash while zeroing it.
TEST(Cli, AKvCacheThatCannotFitIsRefused) {
  Result r = fathom("bench --model " + kFixtures +
                    "/deepseek-v3-tiny --prompt-tokens 4 --gen-tokens 2 --batch 4096 --set runtime.max_seq_len=16777216 "
                    "--set 'runtime.backends=[\"cpu\"]'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("the KV cache does not fit on cpu: with 'layers.0.kv_cache' it needs 12288.0 GiB so far"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("lower runtime.max_batch (sequences at once) or runtime.max_seq_len"), std::string::npos) << r.err;
}

TEST(Cli, InspectReportsThePublishedSizes) {
  Result v3 = fathom("inspect --model " + kShared + "/models/configs/deepseek-v3.config.json");
  ASSERT_EQ(v3.status, 0) << v3.err;
  EXPECT_NE(v3.out.find("671.0B"), std::string::npos) << v3.out;
  EXPECT_NE(v3.out.find("11.6B"), std::string::npos) << v3.out;
  Result lite = fathom("inspect --model " + kShared + "/models/configs/deepseek-v2-lite.config.json");
  ASSERT_EQ(lite.status, 0) << lite.err;
  EXPECT_NE(lite.out.find("15.7B"), std::string::npos) << lite.out;
}

TEST(Cli, InspectPlacementTable) {
  Result r = fathom("inspect --model " + kFixtures + "/deepseek-v2-lite-tiny --placement --config " + kSource +
                    "/configs/reference.toml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("backends: reference\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers.1.mlp.experts                   moe_experts     reference  (first backend in runtime.backends)"),
            std::string::npos)
      << r.out;
}

// Without --config the chain is picked here ("auto"): the nodes go to its first backend, and the
// reference backend is last.
TEST(Cli, InspectPlacementWithTheAutomaticChain) {
  Result r = fathom("inspect --model " + kFixtures + "/deepseek-v2-lite-tiny --placement");
  ASSERT_EQ(r.status, 0) << r.err;
  const size_t at = r.out.find("backends (auto): ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  std::istringstream names(line.substr(std::string("backends (auto): ").size()));
  std::vector<std::string> chain;
  for (std::string name; std::getline(names, name, ',');) chain.push_back(name.substr(name.find_first_not_of(' ')));
  ASSERT_FALSE(chain.empty()) << line;
  EXPECT_EQ(chain.back(), "reference") << line;
  EXPECT_NE(r.out.find("moe_experts     " + chain.front() + "  (first backend in runtime.backends)"), std::string::npos)
      << r.out;
}

TEST(Cli, BadInputsExitNonZeroWithAMessage) {
  Result missing = fathom("logits --model /nonexistent/model --ids 1,2");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.err.find("/nonexistent/model"), std::string::npos) << missing.err;

  Result bad_ids = fathom("logits --model " + kFixtures + "/deepseek-v3-tiny --ids 1,x");
  EXPECT_NE(bad_ids.status, 0);
  EXPECT_NE(bad_ids.err.find("'x' is not a token id"), std::string::npos) << bad_ids.err;

  Result out_of_vocab = fathom("logits --model " + kFixtures + "/deepseek-v3-tiny --ids 1,99999");
  EXPECT_NE(out_of_vocab.status, 0);
  EXPECT_NE(out_of_vocab.err.find("99999"), std::string::npos) << out_of_vocab.err;

  // An op that no listed backend accepts is a load-time error naming it.
  auto dir = std::filesystem::temp_directory_path() / ("fathom_cli_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "template-only.toml") << "[runtime]\nbackends = [\"template\"]\n";
  Result unplaceable = fathom("logits --model " + kFixtures + "/deepseek-v3-tiny --ids 1 --config " + (dir / "template-only.toml").string());
  EXPECT_NE(unplaceable.status, 0);
  EXPECT_NE(unplaceable.err.find("no backend in runtime.backends accepts node 'embed_tokens' (op embedding)"), std::string::npos)
      << unplaceable.err;

  // Speculative decoding with MTP on a checkpoint without an MTP module.
  Result no_mtp = fathom("bench --model " + kFixtures + "/deepseek-v2-lite-tiny --gen-tokens 2 --speculative mtp");
  EXPECT_NE(no_mtp.status, 0);
  EXPECT_NE(no_mtp.err.find("has no MTP module"), std::string::npos) << no_mtp.err;
}

// --speculative mtp and ngram: the same text as without (greedy), and bench reports the drafts.
TEST(Cli, MtpSpeculationKeepsTheText) {
  auto dir = std::filesystem::temp_directory_path() / ("fathom_markov_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(fathom("make-tiny --markov --out " + dir.string()).status, 0);
  const std::string run = "run --model " + dir.string() + " --prompt Hello --max-tokens 24 --temperature 0";
  Result plain = fathom(run);
  Result speculative = fathom(run + " --speculative mtp");
  ASSERT_EQ(speculative.status, 0) << speculative.err;
  EXPECT_EQ(plain.out, speculative.out);
  Result lookup = fathom(run + " --speculative ngram");
  ASSERT_EQ(lookup.status, 0) << lookup.err;
  EXPECT_EQ(plain.out, lookup.out);
  Result bench = fathom("bench --model " + dir.string() + " --prompt-tokens 8 --gen-tokens 17 --json --speculative mtp");
  ASSERT_EQ(bench.status, 0) << bench.err;
  auto j = nlohmann::json::parse(bench.out);
  EXPECT_EQ(j["speculative"], "mtp");
  EXPECT_GT(j["drafts_accepted"].get<int>(), 0) << j.dump();
  // 16 tokens after the prefill's: one per step, plus one per accepted draft.
  EXPECT_EQ(j["decode_steps"].get<int>() + j["drafts_accepted"].get<int>(), 16) << j.dump();
  EXPECT_EQ(j["speculative_tokens"], 1) << "MTP drafts one a step unless asked for more";

  // Chained MTP drafts: the same text, more drafts a step, and the same count of tokens.
  Result chained = fathom(run + " --speculative mtp --speculative-tokens 3");
  ASSERT_EQ(chained.status, 0) << chained.err;
  EXPECT_EQ(plain.out, chained.out);
  Result deeper = fathom("bench --model " + dir.string() +
                         " --prompt-tokens 8 --gen-tokens 17 --json --speculative mtp --speculative-tokens 3");
  ASSERT_EQ(deeper.status, 0) << deeper.err;
  auto k = nlohmann::json::parse(deeper.out);
  EXPECT_EQ(k["speculative_tokens"], 3);
  // Per place: the first drafts add up with the later ones to all drafts; a later place is
  // drafted no more often than the one before it (a chain is cut short, never lengthened).
  const auto& places = k["drafts_by_place"];
  ASSERT_EQ(places.size(), 3u) << k.dump();
  int drafted = 0, accepted = 0;
  for (size_t j = 0; j < places.size(); ++j) {
    drafted += places[j]["drafted"].get<int>();
    accepted += places[j]["accepted"].get<int>();
    EXPECT_LE(places[j]["accepted"].get<int>(), places[j]["drafted"].get<int>());
    if (j > 0) {
      EXPECT_LE(places[j]["drafted"].get<int>(), places[j - 1]["drafted"].get<int>());
      EXPECT_LE(places[j]["accepted"].get<int>(), places[j - 1]["accepted"].get<int>()) << "accepted in order";
    }
  }
  EXPECT_EQ(drafted, k["drafts"].get<int>());
  EXPECT_EQ(accepted, k["drafts_accepted"].get<int>());
  EXPECT_GT(k["drafts"].get<int>(), k["decode_steps"].get<int>()) << k.dump();
  EXPECT_EQ(k["decode_steps"].get<int>() + k["drafts_accepted"].get<int>(), 16) << k.dump();
  Result zero = fathom(run + " --speculative mtp --speculative-tokens 0");
  EXPECT_NE(zero.status, 0);
  EXPECT_NE(zero.err.find("--speculative-tokens"), std::string::npos) << zero.err;
  std::filesystem::remove_all(dir);
}

// The demo model of the README, end to end: written, then generating, deterministically per seed.
TEST(Cli, DemoModelGenerates) {
  auto dir = std::filesystem::temp_directory_path() / ("fathom_demo_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(fathom("make-tiny --out " + dir.string()).status, 0);
  Result a = fathom("run --model " + dir.string() + " --prompt Hello --max-tokens 24 --seed 7");
  Result b = fathom("run --model " + dir.string() + " --prompt Hello --max-tokens 24 --seed 7");
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_GT(a.out.size(), 10u);
  EXPECT_EQ(a.out, b.out);
  // No --config: the progress lines name the chain "auto" picked, the reference backend last.
  const size_t at = a.err.find("loading: backends: ");
  ASSERT_NE(at, std::string::npos) << a.err;
  const std::string chain = a.err.substr(at, a.err.find('\n', at) - at);
  EXPECT_TRUE(chain.ends_with(", reference") || chain.ends_with(": reference")) << chain;
  // JSON mode from the command line: what it prints is JSON when it stopped by itself; a few seeds
  // are enough for one of the random model's outputs to close its object.
  int parsed = 0;
  for (int seed = 1; seed <= 8; ++seed) {
    Result j = fathom("run --model " + dir.string() + " --prompt JSON --max-tokens 60 --temperature 1 --json-object --seed " +
                      std::to_string(seed));
    ASSERT_EQ(j.status, 0) << j.err;
    const auto printed = nlohmann::json::parse(j.out, nullptr, /*allow_exceptions=*/false);
    if (!printed.is_discarded()) {
      EXPECT_TRUE(printed.is_object()) << j.out;
      ++parsed;
    }
  }
  EXPECT_GT(parsed, 0) << "no run closed its JSON object";

  // Structured output from the command line: a schema file; what stopped is an object of it
  // (checked member by member); a bad schema names the file and the place in it.
  std::ofstream(dir / "schema.json")
      << R"({"type":"object","properties":{"id":{"type":"integer"},"ok":{"type":"boolean"}},"required":["id","ok"],"additionalProperties":false})";
  int valid = 0;
  for (int seed = 1; seed <= 8; ++seed) {
    Result r = fathom("run --model " + dir.string() + " --prompt JSON --max-tokens 40 --temperature 1 --json-schema " +
                      (dir / "schema.json").string() + " --seed " + std::to_string(seed));
    ASSERT_EQ(r.status, 0) << r.err;
    const auto printed = nlohmann::ordered_json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (printed.is_discarded()) continue;
    ASSERT_TRUE(printed.is_object()) << r.out;
    ASSERT_EQ(printed.size(), 2u) << r.out;
    EXPECT_EQ(printed.begin().key(), "id");
    EXPECT_TRUE(printed["id"].is_number_integer()) << r.out;
    EXPECT_TRUE(printed["ok"].is_boolean()) << r.out;
    ++valid;
  }
  EXPECT_GT(valid, 0) << "no run closed its object";
  std::ofstream(dir / "bad-schema.json") << R"({"type":"object","properties":{"n":{"type":"number","minimum":0.30000000000000004}}})";
  Result bad = fathom("run --model " + dir.string() + " --prompt x --json-schema " + (dir / "bad-schema.json").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("bad-schema.json"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("#/properties/n/minimum"), std::string::npos) << bad.err;

  // A regular expression or a list of choices: the printed text (and its newline) is one.
  for (int seed = 1; seed <= 4; ++seed) {
    Result code = fathom("run --model " + dir.string() + " --prompt x --temperature 1 --regex '[0-9]{3}-(ab|cd)' --seed " +
                         std::to_string(seed));
    ASSERT_EQ(code.status, 0) << code.err;
    ASSERT_EQ(code.out.size(), 7u) << code.out;
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(code.out[i] >= '0' && code.out[i] <= '9') << code.out;
    EXPECT_TRUE(code.out.substr(3) == "-ab\n" || code.out.substr(3) == "-cd\n") << code.out;
    Result pick = fathom("run --model " + dir.string() + " --prompt x --temperature 1 --choice yes --choice no --seed " +
                         std::to_string(seed));
    ASSERT_EQ(pick.status, 0) << pick.err;
    EXPECT_TRUE(pick.out == "yes\n" || pick.out == "no\n") << pick.out;
  }
  Result bad_regex = fathom("run --model " + dir.string() + " --prompt x --regex '(?=a)b'");
  EXPECT_NE(bad_regex.status, 0);
  EXPECT_NE(bad_regex.err.find("--regex"), std::string::npos) << bad_regex.err;
  // A GBNF grammar from a file: the printed text is one it derives; errors name the file and line.
  std::ofstream(dir / "yes-no.gbnf") << "# an answer and a count\nroot ::= answer \" x\" [1-3]\nanswer ::= \"yes\" | \"no\"\n";
  for (int seed = 1; seed <= 3; ++seed) {
    Result g = fathom("run --model " + dir.string() + " --prompt x --temperature 1 --grammar " + (dir / "yes-no.gbnf").string() +
                      " --seed " + std::to_string(seed));
    ASSERT_EQ(g.status, 0) << g.err;
    ASSERT_TRUE(g.out.size() == 6 || g.out.size() == 7) << g.out;  // "no x3\n", "yes x1\n"
    const std::string answer = g.out.substr(0, g.out.size() - 4);
    EXPECT_TRUE(answer == "yes" || answer == "no") << g.out;
    EXPECT_EQ(g.out.substr(g.out.size() - 4, 2), " x") << g.out;
    EXPECT_TRUE(g.out[g.out.size() - 2] >= '1' && g.out[g.out.size() - 2] <= '3') << g.out;
  }
  std::ofstream(dir / "bad.gbnf") << "root ::= answer\nanswer ::= \"yes\" |\n  \"no\" )\n";
  Result bad_grammar = fathom("run --model " + dir.string() + " --prompt x --grammar " + (dir / "bad.gbnf").string());
  EXPECT_NE(bad_grammar.status, 0);
  EXPECT_NE(bad_grammar.err.find("bad.gbnf"), std::string::npos) << bad_grammar.err;
  EXPECT_NE(bad_grammar.err.find("line 3"), std::string::npos) << bad_grammar.err;

  // Perplexity of a text file: the text as `fathom tokenize --add-special` encodes it.
  std::ofstream(dir / "text.txt") << "The sea was calm, and the ships lay still in the harbour until the wind came.";
  Result ppl = fathom("perplexity --json --context 8 --model " + dir.string() + " --file " + (dir / "text.txt").string());
  ASSERT_EQ(ppl.status, 0) << ppl.err;
  Result ids = fathom("tokenize --add-special --tokenizer " + dir.string() +
                      " --text 'The sea was calm, and the ships lay still in the harbour until the wind came.'");
  ASSERT_EQ(ids.status, 0) << ids.err;
  const auto scored = nlohmann::json::parse(ppl.out);
  EXPECT_EQ(scored["tokens"], nlohmann::json::parse(ids.out)["ids"].size());
  EXPECT_EQ(scored["tokens_scored"].get<size_t>(), scored["tokens"].get<size_t>() - scored["windows"].get<size_t>());
  EXPECT_GT(scored["perplexity"].get<double>(), 1.0);

  Result bench = fathom("bench --model " + dir.string() + " --prompt-tokens 8 --gen-tokens 4 --batch 2 --json --nodes 5");
  ASSERT_EQ(bench.status, 0) << bench.err;
  auto j = nlohmann::json::parse(bench.out);
  for (const char* key : {"load_seconds", "prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_bytes", "ops"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_GT(j["load_seconds"].get<double>(), 0.0);
  EXPECT_GT(j["ops"].size(), 5u);
  for (const auto& op : j["ops"]) EXPECT_TRUE(op.contains("prefill_ms")) << op.dump();  // decode's share = total - prefill
  // --nodes: the slowest nodes of the 3 decode steps (each a batched call), slowest first.
  ASSERT_EQ(j["decode_nodes"].size(), 5u) << j.dump();
  double previous = 1e300;
  bool some_matmul = false;
  for (const auto& n : j["decode_nodes"]) {
    EXPECT_EQ(n["node"].get<std::string>().rfind("decode:", 0), 0u) << n.dump();
    EXPECT_EQ(n["calls"].get<int>(), 3) << n.dump();
    EXPECT_LE(n["ms_per_step"].get<double>(), previous);
    previous = n["ms_per_step"].get<double>();
    if (n["op"] == "matmul") {
      some_matmul = true;
      EXPECT_GT(n["weight_bytes"].get<uint64_t>(), 0u) << n.dump();
    }
  }
  EXPECT_TRUE(some_matmul) << j["decode_nodes"].dump();
  std::filesystem::remove_all(dir);
}

}  // namespace
