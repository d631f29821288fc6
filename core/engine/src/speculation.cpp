// Speculative decoding: which sequences draft, the drafts themselves (the MTP head's, or looked
// up in the sequence's own tokens), and the counters. The verification is in Engine::decode().
#include "fathom/engine/engine.h"

#include <algorithm>
#include <cstdint>
#include <span>

#include "sequence.h"

namespace fathom::engine {

namespace {

int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

const char* speculation_name(Speculation s) {
  switch (s) {
    case Speculation::off: return "off";
    case Speculation::mtp: return "mtp";
    case Speculation::ngram: return "ngram";
  }
  return "?";
}

SpeculationStats Engine::speculation_stats() const {
  SpeculationStats stats{drafted_.load(), accepted_.load(), steps_.load(), {}, {}};
  for (size_t j = 0; j < kMaxDraftPlaces && drafted_at_[j].load() > 0; ++j) {
    stats.drafted_at.push_back(drafted_at_[j].load());
    stats.accepted_at.push_back(accepted_at_[j].load());
  }
  return stats;
}

bool Engine::wants_draft(const Sequence& s) const {
  // A draft pays off only when at least two more tokens are to come; this also keeps the draft's
  // position inside the sequence's room (prompt + max_new_tokens ≤ max_seq_len).
  // Counted from the first token on, so that a prompt still being prefilled (no token yet) feeds
  // the MTP module only when its sequence will draft.
  const auto produced = std::max<int64_t>(static_cast<int64_t>(s.output.size()), 1);
  return speculation_ != Speculation::off && s.may_draft && !s.done && s.request.max_new_tokens - produced >= 2;
}

void Engine::propose_ngram_drafts(Sequence& s) const {
  if (speculation_ != Speculation::ngram || !wants_draft(s)) return;
  s.ngram_index.extend(s.request.prompt, s.output);
  s.drafts = s.ngram_index.drafts(NgramIndex::kMaxN, draft_depth(s));
}

size_t Engine::draft_depth(const Sequence& s) const {
  // A step emits its drafts and one more token, so at most one fewer than are still to come.
  const auto room = static_cast<size_t>(s.request.max_new_tokens - static_cast<int64_t>(s.output.size()) - 1);
  return std::min(room, static_cast<size_t>(limits_.speculative_tokens));
}

void Engine::draft(DraftRows rows, AttentionForm form) {
  if (rows.ids.empty()) return;
  const size_t vocab = static_cast<size_t>(model_.spec().vocab_size);
  const size_t d = static_cast<size_t>(model_.spec().hidden_size);
  ForwardResult r = model_.mtp_forward({rows.ids, rows.positions, rows.slots}, rows.hidden, form, rows.last_row);
  for (size_t i = 0; i < rows.sequences.size(); ++i) {
    rows.sequences[i]->drafts = {argmax(std::span<const float>(r.logits).subspan(i * vocab, vocab))};
  }
  // Deeper drafts: the module again, one row per sequence, pairing its own hidden state with the
  // token it just drafted, one position on. Those rows write the MTP cache past the tokens known
  // (not counted by fed_mtp); the rows of the verified tokens overwrite them in the next step
  // before anything reads them, as the main model's draft rows are.
  while (true) {
    DraftRows deeper;
    for (size_t i = 0; i < rows.sequences.size(); ++i) {
      Sequence* s = rows.sequences[i];
      if (s->drafts.size() >= draft_depth(*s)) continue;
      const size_t row = rows.last_row[i];
      deeper.add(*s, std::span<const float>(r.hidden).subspan(row * d, d), s->drafts.back(), rows.positions[row] + 1);
      deeper.ask_draft(s);
    }
    if (deeper.ids.empty()) return;
    r = model_.mtp_forward({deeper.ids, deeper.positions, deeper.slots}, deeper.hidden, AttentionForm::absorbed,
                           deeper.last_row);
    for (size_t i = 0; i < deeper.sequences.size(); ++i) {
      deeper.sequences[i]->drafts.push_back(argmax(std::span<const float>(r.logits).subspan(i * vocab, vocab)));
    }
    rows = std::move(deeper);
  }
}

void Engine::stop_drafting_if_crowded() {
  const int64_t limit = limits_.speculative_max_batch;
  if (speculation_ == Speculation::off || limit == 0 || static_cast<int64_t>(running_.size()) <= limit) return;
  for (auto& s : running_) {
    s->may_draft = false;
    s->drafts.clear();
  }
}

}  // namespace fathom::engine
