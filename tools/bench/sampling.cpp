// fathom_bench_sampling: what the per-token work around sampling costs at a real vocabulary —
// the logprobs a request may ask for, and JSON mode's token mask — on one thread.
//
//   fathom_bench_sampling --tokenizer DIR [--vocab 129280] [--repeats 50]
//
// logprobs: token_logprobs over a row of normally distributed logits, with 0 and 20 alternatives.
// JSON mask: JsonTokenFilter::mask for a few typical states, first with an empty cache (one walk
// over the vocabulary in byte order) and then cached (the state seen before). Each cell is the median
// over --repeats calls (the uncached one builds a fresh filter each time).
// Schema mask: GrammarTokenFilter::mask under a JSON schema (an object of four members), the same
// way: first time with a fresh filter (its automaton built from nothing), then cached.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fathom/engine/grammar_token_filter.h"
#include "fathom/engine/json_schema_grammar.h"
#include "fathom/engine/json_token_filter.h"
#include "fathom/engine/logprobs.h"
#include "fathom/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double median_ms(int repeats, F&& body) {
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    body();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
  return ms[ms.size() / 2];
}

int usage() {
  std::fprintf(stderr, "usage: fathom_bench_sampling --tokenizer DIR [--vocab N] [--repeats N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer_dir;
  size_t vocab = 129280;
  int repeats = 50;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--tokenizer") tokenizer_dir = argv[++i];
    else if (a == "--vocab") vocab = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--repeats") repeats = std::max(1, std::atoi(argv[++i]));
    else return usage();
  }
  if (tokenizer_dir.empty() || vocab == 0) return usage();
  const auto tok = fathom::tokenizer::Tokenizer::load(tokenizer_dir);

  std::vector<float> logits(vocab);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (float& x : logits) x = normal(rng);
  std::printf("vocabulary %zu, median of %d calls, one thread\n\n| work | ms per token |\n|---|---:|\n", vocab, repeats);
  for (const int64_t top : {0, 20}) {
    volatile float sink = 0;
    const double ms = median_ms(repeats, [&] { sink = sink + fathom::engine::token_logprobs(logits, 7, top).logprob; });
    std::printf("| logprobs, %lld alternatives | %.3f |\n", static_cast<long long>(top), ms);
  }

  const std::vector<int32_t> eos = tok.eos_id() ? std::vector<int32_t>{static_cast<int32_t>(*tok.eos_id())} : std::vector<int32_t>{};
  const double table_ms = median_ms(std::max(1, repeats / 10), [&] { fathom::engine::JsonTokenFilter::from_tokenizer(tok, vocab); });
  std::printf("| JSON mask: the filter's token table (once per engine) | %.3f |\n", table_ms);
  const auto json_table = std::make_shared<const fathom::engine::TokenTable>(fathom::engine::TokenTable::from_tokenizer(tok, vocab));
  for (const char* so_far : {"", "{\"key\":", "{\"key\":\"some text", "{\"a\":[1,2", "{\"a\":{\"b\":true}"}) {
    fathom::engine::JsonPrefix state;
    if (!state.feed(std::string_view(so_far))) {
      std::fprintf(stderr, "not a JSON prefix: %s\n", so_far);
      return 1;
    }
    std::vector<float> row = logits;
    const double cold = median_ms(std::max(1, repeats / 10), [&] {
      fathom::engine::JsonTokenFilter fresh(json_table);
      row = logits;
      fresh.mask(state, row, eos);
    });
    fathom::engine::JsonTokenFilter filter(json_table);
    filter.mask(state, row, eos);
    size_t kept = 0;
    const double warm = median_ms(repeats, [&] {
      row = logits;
      kept = filter.mask(state, row, eos);
    });
    std::printf("| JSON mask after `%s`: first time / cached (%zu tokens allowed) | %.3f / %.3f |\n", so_far, kept, cold, warm);
  }

  const std::string_view schema = R"({"type": "object", "properties": {
      "name": {"type": "string"}, "age": {"type": "integer"}, "email": {"type": ["string", "null"]},
      "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 3}},
      "required": ["name", "age"], "additionalProperties": false})";
  const double compile_ms = median_ms(repeats, [&] { fathom::engine::json_schema_grammar(schema); });
  std::printf("| schema mask: compiling the schema (once per request) | %.3f |\n", compile_ms);
  const auto grammar = fathom::engine::json_schema_grammar(schema);
  const auto& table = json_table;
  for (const char* so_far : {"", "{\"name\": \"", "{\"name\": \"Ada\", \"age\": 3", "{\"name\": \"Ada\", \"age\": 36, \"tags\": ["}) {
    std::vector<float> row = logits;
    auto at = [&](fathom::engine::GrammarTokenFilter& f) { return f.advance(f.start(), std::string_view(so_far)); };
    size_t states = 0;
    const double cold = median_ms(std::max(1, repeats / 10), [&] {
      fathom::engine::GrammarTokenFilter fresh(table, grammar);
      row = logits;
      fresh.mask(at(fresh), row, eos);
      states = fresh.automaton().states();
    });
    fathom::engine::GrammarTokenFilter filter(table, grammar);
    const auto state = at(filter);
    if (state == fathom::engine::GrammarAutomaton::kDead) {
      std::fprintf(stderr, "not a prefix the schema allows: %s\n", so_far);
      return 1;
    }
    filter.mask(state, row, eos);
    size_t kept = 0;
    const double warm = median_ms(repeats, [&] {
      row = logits;
      kept = filter.mask(state, row, eos);
    });
    std::printf("| schema mask after `%s`: first time / cached (%zu tokens allowed, %zu automaton states) | %.3f / %.3f |\n",
                so_far, kept, states, cold, warm);
  }

  // A whole reply: the masks of every step of a valid text as the tokenizer encodes it, for the
  // first request with the schema (a fresh filter) and for a later one (the filter kept).
  const std::string reply = R"({"name": "Ada Lovelace", "age": 36, "email": "ada@example.com", "tags": ["red", "blue"]})";
  const auto ids = tok.encode(reply, false);
  auto whole_reply = [&](fathom::engine::GrammarTokenFilter& f) {
    auto state = f.start();
    for (const auto id : ids) {
      std::vector<float> row = logits;
      f.mask(state, row, eos);
      state = f.advance(state, static_cast<int32_t>(id));
    }
  };
  fathom::engine::GrammarTokenFilter kept(table, grammar);
  whole_reply(kept);
  const double fresh_ms = median_ms(std::max(1, repeats / 10), [&] {
    fathom::engine::GrammarTokenFilter fresh(table, grammar);
    whole_reply(fresh);
  });
  const double again_ms = median_ms(std::max(1, repeats / 10), [&] { whole_reply(kept); });
  std::printf("| schema masks over a %zu-token reply: first request / the same schema again (total) | %.1f / %.1f |\n",
              ids.size(), fresh_ms, again_ms);
  return 0;
}
