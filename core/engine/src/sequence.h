// The engine's view of one request (Engine::Sequence) and of the MTP rows of one step
// (Engine::DraftRows): shared by the scheduling (engine.cpp) and the drafting (speculation.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fathom/engine/engine.h"
#include "fathom/engine/ngram_draft.h"
#include "fathom/tokenizer/stream_decoder.h"

namespace fathom::engine {

struct Engine::Sequence {
  RequestId id;
  GenerationRequest request;
  EventCallback on_event;
  Sampler sampler;
  std::vector<int32_t> output;
  int32_t slot = -1;
  bool done = false;
  std::optional<tokenizer::StreamDecoder> decoder;
  std::string pending_text;  // decoded but held back: it may be the start of a stop string
  size_t hold_back = 0;      // longest stop string − 1
  std::vector<int32_t> drafts;   // guesses of the tokens after output.back()
  NgramIndex ngram_index;        // Speculation::ngram: where its n-grams last occurred
  bool may_draft = true;         // false once the batch outgrew speculative_max_batch
  size_t prefilled = 0;          // prompt tokens already in the cache
  size_t cached = 0;             // of those, reused from the slot's previous sequence
  size_t mtp_fed = 0;            // leading positions whose MTP cache entries are written
  bool cache_unreliable = false; // a step failed while this sequence ran
  std::vector<TokenLogprobs> prompt_logprobs;  // prompt_logprobs: scored so far, until the first event
  std::vector<float> held_back_logits;  // the row sampled from: stop tokens banned (min_tokens), JSON mode's mask
  std::optional<JsonPrefix> json;       // JSON mode: the output so far
  std::shared_ptr<GrammarTokenFilter> grammar;  // structured output: the grammar's filter (set at the first token)
  GrammarTokenFilter::State grammar_state = 0;  // and the automaton's state after the output so far
  bool structured_waiting = false;  // structured_after: its marker has not come yet (no constraint)
  std::string structured_tail;      // the output's last bytes while waiting (the marker may be split)

  Sequence(RequestId i, GenerationRequest r, EventCallback cb)
      : id(i), request(std::move(r)), on_event(std::move(cb)), sampler(request.sampling) {
    for (const auto& s : request.stop_strings) hold_back = std::max(hold_back, s.size() > 0 ? s.size() - 1 : 0);
  }
  int64_t length() const { return static_cast<int64_t>(request.prompt.size() + output.size()); }
  // MTP rows for positions [begin, end) were run: the valid prefix grows when they adjoin it.
  void fed_mtp(size_t begin, size_t end) {
    if (begin <= mtp_fed) mtp_fed = std::max(mtp_fed, end);
  }
};

// The MTP rows of one step: row r pairs the main model's hidden state at
// positions[r] with ids[r], the token that followed it.
struct Engine::DraftRows {
  std::vector<Sequence*> sequences;
  std::vector<size_t> last_row;  // per sequence: its last row, whose MTP logits give the draft
  std::vector<float> hidden;
  std::vector<int32_t> ids, positions, slots;

  void add(const Sequence& s, std::span<const float> hidden_row, int32_t next_id, int32_t position) {
    hidden.insert(hidden.end(), hidden_row.begin(), hidden_row.end());
    ids.push_back(next_id);
    positions.push_back(position);
    slots.push_back(s.slot);
  }
  // The row added last gives `s` its draft; rows without one only fill the MTP cache.
  void ask_draft(Sequence* s) {
    sequences.push_back(s);
    last_row.push_back(ids.size() - 1);
  }
};

}  // namespace fathom::engine
