#include "fathom/engine/engine.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

#include "fathom/core/error.h"
#include "fathom/core/logging.h"
#include "fathom/tokenizer/stream_decoder.h"
#include "fathom/tokenizer/tokenizer.h"
#include "sequence.h"

namespace fathom::engine {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::none: return "none";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
  }
  return "?";
}

Engine::Engine(LoadedModel& model, const tokenizer::Tokenizer* tok, EngineLimits limits, Speculation speculation)
    : model_(model), tok_(tok), limits_(limits), speculation_(speculation),
      slots_(static_cast<size_t>(limits.max_batch)) {
  if (limits.max_batch > model.options().n_slots) {
    throw invalid_argument("engine: max_batch " + std::to_string(limits.max_batch) + " exceeds the model's " +
                           std::to_string(model.options().n_slots) + " cache slots");
  }
  if (speculation == Speculation::mtp && !model.has_mtp()) {
    throw Error(ErrorCode::failed_precondition,
                "speculative decoding with MTP needs the model's MTP module, and it was not loaded");
  }
  if (limits_.speculative_tokens < 0 || limits_.speculative_tokens > static_cast<int64_t>(kMaxDraftPlaces)) {
    throw invalid_argument("engine: speculative_tokens must be 0 (the method's default) to " +
                           std::to_string(kMaxDraftPlaces));
  }
  if (limits_.speculative_tokens == 0) limits_.speculative_tokens = speculation == Speculation::mtp ? 1 : 3;
  for (int64_t id : model.spec().eos_token_ids) eos_ids_.push_back(static_cast<int32_t>(id));
  if (tok_ && tok_->eos_id()) eos_ids_.push_back(*tok_->eos_id());
  std::sort(eos_ids_.begin(), eos_ids_.end());
  eos_ids_.erase(std::unique(eos_ids_.begin(), eos_ids_.end()), eos_ids_.end());
}

Engine::~Engine() = default;

RequestId Engine::submit(GenerationRequest request, EventCallback on_event) {
  const auto prompt_len = static_cast<int64_t>(request.prompt.size());
  if (prompt_len == 0) throw invalid_argument("the prompt is empty");
  if (request.max_new_tokens < (request.prompt_logprobs ? 0 : 1)) {
    throw invalid_argument("max_new_tokens must be at least 1 (0 only to score the prompt, with prompt_logprobs)");
  }
  if (request.prompt_logprobs && *request.prompt_logprobs < 0) throw invalid_argument("prompt_logprobs must be at least 0");
  if (request.logprobs && *request.logprobs < 0) throw invalid_argument("logprobs must be at least 0");
  if (request.json_object || request.grammar) {
    const char* mode = request.grammar ? "structured output (a JSON schema)" : "JSON mode";
    if (!tok_) throw Error(ErrorCode::failed_precondition, std::string(mode) + " needs the model's tokenizer (tokenizer.json)");
    if (request.min_tokens > 0) throw invalid_argument(std::string("min_tokens cannot be combined with ") + mode);
    if (request.json_object && request.grammar) throw invalid_argument("JSON mode and a JSON schema cannot be combined");
  }
  if (request.min_tokens < 0 || request.min_tokens > request.max_new_tokens) {
    throw invalid_argument("min_tokens (" + std::to_string(request.min_tokens) + ") must be between 0 and max_new_tokens (" +
                           std::to_string(request.max_new_tokens) + ")");
  }
  if (prompt_len + request.max_new_tokens > limits_.max_seq_len) {
    throw out_of_range("prompt (" + std::to_string(prompt_len) + " tokens) + max_new_tokens (" +
                       std::to_string(request.max_new_tokens) + ") exceeds runtime.max_seq_len " +
                       std::to_string(limits_.max_seq_len));
  }
  const auto vocab = static_cast<int32_t>(model_.spec().vocab_size);
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= vocab) throw invalid_argument("prompt token " + std::to_string(id) + " outside the vocabulary");
  }
  for (const auto& [id, bias] : request.sampling.logit_bias) {
    if (id < 0 || id >= vocab) {
      throw invalid_argument("logit_bias names token " + std::to_string(id) + ", outside the vocabulary of " +
                             std::to_string(vocab));
    }
  }
  if (!request.stop_strings.empty() && !tok_) throw invalid_argument("stop strings need a tokenizer");
  std::lock_guard lock(mutex_);
  if (static_cast<int64_t>(waiting_.size()) >= limits_.max_queue) {
    throw resource_exhausted("the request queue is full (" + std::to_string(limits_.max_queue) + " waiting)");
  }
  RequestId id = next_id_++;
  auto seq = std::make_unique<Sequence>(id, std::move(request), std::move(on_event));
  if (seq->request.json_object) seq->json.emplace();
  seq->structured_waiting = (seq->request.json_object || seq->request.grammar) && !seq->request.structured_after.empty();
  if (tok_) seq->decoder.emplace(tok_->stream_decoder(false));
  waiting_.push_back(std::move(seq));
  return id;
}

void Engine::cancel(RequestId id) {
  std::lock_guard lock(mutex_);
  cancelled_.push_back(id);
}

size_t Engine::running() const { return running_.size(); }

size_t Engine::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

void Engine::finish(Sequence& s, FinishReason reason, const std::string& error) {
  if (s.done) return;
  s.done = true;
  TokenEvent e;
  e.request = s.id;
  e.finished = true;
  e.reason = reason;
  e.error = error;
  if (s.output.empty()) e.prompt_logprobs = std::move(s.prompt_logprobs);  // no token event carried them
  // Text held back for stop-string matching is released (a matched stop string already cleared it).
  e.text = std::move(s.pending_text);
  e.prompt_tokens = static_cast<int64_t>(s.request.prompt.size());
  e.completion_tokens = static_cast<int64_t>(s.output.size());
  e.cached_tokens = static_cast<int64_t>(s.cached);
  s.on_event(e);
}

const TokenTable& Engine::token_table(size_t vocab) {
  if (!token_table_) token_table_ = std::make_shared<const TokenTable>(TokenTable::from_tokenizer(*tok_, vocab));
  return *token_table_;
}

std::shared_ptr<GrammarTokenFilter> Engine::grammar_filter(const std::shared_ptr<const Grammar>& grammar, size_t vocab) {
  // Enough for the schemas a deployment sends in turn; each holds its automaton and masks
  // (16 KB per cached state for DeepSeek-V3).
  constexpr size_t kKeptGrammars = 8;
  token_table(vocab);
  const std::string key = !grammar->key().empty() ? grammar->key()
                                                  : "address:" + std::to_string(reinterpret_cast<uintptr_t>(grammar.get()));
  auto it = std::find_if(grammar_filters_.begin(), grammar_filters_.end(), [&](const auto& e) { return e.first == key; });
  if (it != grammar_filters_.end()) {
    std::rotate(grammar_filters_.begin(), it, it + 1);  // most recent first
    ++grammars_reused_;
    return grammar_filters_.front().second;
  }
  auto filter = std::make_shared<GrammarTokenFilter>(token_table_, grammar);
  grammar_filters_.insert(grammar_filters_.begin(), {key, filter});
  if (grammar_filters_.size() > kKeptGrammars) grammar_filters_.pop_back();  // sequences using it keep theirs
  ++grammars_built_;
  return filter;
}

bool Engine::mask_structured(Sequence& s, std::span<const float> logits) {
  s.held_back_logits.assign(logits.begin(), logits.end());
  size_t kept = 0;
  try {
    if (s.json) {
      if (!json_filter_) {
        token_table(logits.size());
        json_filter_ = std::make_unique<JsonTokenFilter>(token_table_);
      }
      kept = json_filter_->mask(*s.json, s.held_back_logits, eos_ids_);
    } else {
      if (!s.grammar) {
        s.grammar = grammar_filter(s.request.grammar, logits.size());
        s.grammar_state = s.grammar->start();
      }
      kept = s.grammar->mask(s.grammar_state, s.held_back_logits, eos_ids_);
    }
  } catch (const Error& e) {  // the automaton outgrew its bounds: this request ends, the others go on
    finish(s, FinishReason::error, std::string("structured output: ") + e.what());
    return false;
  }
  if (kept == 0) {
    finish(s, FinishReason::error, s.json ? "JSON mode: no token can continue the JSON generated so far"
                                          : "structured output: no token can continue the output generated so far");
    return false;
  }
  return true;
}

bool Engine::watch_for_structured_start(Sequence& s, int32_t token, size_t vocab) {
  const std::string& marker = s.request.structured_after;
  s.structured_tail += token_table(vocab).bytes(token);
  const size_t at = s.structured_tail.find(marker);
  if (at == std::string::npos) {
    if (s.structured_tail.size() >= marker.size()) s.structured_tail.erase(0, s.structured_tail.size() - (marker.size() - 1));
    return true;
  }
  // What the marker's token carries after it is the structured output's start (whitespace left free).
  std::string_view rest = std::string_view(s.structured_tail).substr(at + marker.size());
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n' || rest.front() == '\r' || rest.front() == '\t')) {
    rest.remove_prefix(1);
  }
  bool ok = true;
  if (s.json) {
    ok = s.json->feed(rest);
  } else {
    s.grammar = grammar_filter(s.request.grammar, vocab);
    s.grammar_state = s.grammar->advance(s.grammar->start(), rest);
    ok = s.grammar_state != GrammarAutomaton::kDead;
  }
  s.structured_waiting = false;
  s.structured_tail.clear();
  if (!ok) finish(s, FinishReason::error, "structured output: the text after \"" + marker + "\" cannot begin it");
  return ok;
}

void Engine::advance(Sequence& s, std::span<const float> logits) {
  std::span<const float> sample_from = logits;
  const bool structured = (s.json || s.request.grammar) && !s.structured_waiting;
  if (structured) {
    // Structured output: only tokens that keep the output a prefix of what is asked for
    // (logprobs below still describe the model's own row).
    if (!mask_structured(s, logits)) return;
    sample_from = s.held_back_logits;
  } else if (static_cast<int64_t>(s.output.size()) < s.request.min_tokens) {
    // Too early to stop: the tokens that would end the sequence cannot be sampled. (Logprobs
    // below still describe the model's own row.)
    s.held_back_logits.assign(logits.begin(), logits.end());
    auto ban = [&](int32_t id) {
      if (id >= 0 && static_cast<size_t>(id) < logits.size()) {
        s.held_back_logits[static_cast<size_t>(id)] = -std::numeric_limits<float>::infinity();
      }
    };
    if (!s.request.ignore_eos) std::for_each(eos_ids_.begin(), eos_ids_.end(), ban);
    std::for_each(s.request.stop_token_ids.begin(), s.request.stop_token_ids.end(), ban);
    sample_from = s.held_back_logits;
  }
  const int32_t token = s.sampler.sample(sample_from, s.request.prompt, s.output);
  s.output.push_back(token);
  if (!std::binary_search(eos_ids_.begin(), eos_ids_.end(), token)) {
    if (structured) {  // allowed by the mask, so accepted
      if (s.json) s.json->feed(json_filter_->bytes(token));
      if (s.grammar) s.grammar_state = s.grammar->advance(s.grammar_state, token);
    } else if (s.structured_waiting && !watch_for_structured_start(s, token, logits.size())) {
      return;
    }
  }
  TokenEvent e;
  e.request = s.id;
  e.token = token;
  if (s.request.logprobs) e.logprobs = token_logprobs(logits, token, *s.request.logprobs);
  if (s.output.size() == 1) e.prompt_logprobs = std::move(s.prompt_logprobs);
  e.prompt_tokens = static_cast<int64_t>(s.request.prompt.size());
  e.completion_tokens = static_cast<int64_t>(s.output.size());
  e.cached_tokens = static_cast<int64_t>(s.cached);

  const bool is_eos = !s.request.ignore_eos && std::binary_search(eos_ids_.begin(), eos_ids_.end(), token);
  const bool is_stop_id = std::find(s.request.stop_token_ids.begin(), s.request.stop_token_ids.end(), token) !=
                          s.request.stop_token_ids.end();
  if (s.decoder && !is_eos && !is_stop_id) {
    s.pending_text += s.decoder->push(token);
    for (const auto& stop : s.request.stop_strings) {
      size_t at = s.pending_text.find(stop);
      if (!stop.empty() && at != std::string::npos) {
        e.text = s.pending_text.substr(0, at);
        s.pending_text.clear();
        s.on_event(e);
        finish(s, FinishReason::stop);
        return;
      }
    }
    // Release all but the tail that could still begin a stop string (on a character boundary).
    size_t release = s.pending_text.size() > s.hold_back ? s.pending_text.size() - s.hold_back : 0;
    while (release > 0 && release < s.pending_text.size() && (static_cast<unsigned char>(s.pending_text[release]) & 0xC0) == 0x80) --release;
    e.text = s.pending_text.substr(0, release);
    s.pending_text.erase(0, release);
  }
  s.on_event(e);
  if (is_eos || is_stop_id) return finish(s, FinishReason::stop);
  if (static_cast<int64_t>(s.output.size()) >= s.request.max_new_tokens) return finish(s, FinishReason::length);
}

void Engine::apply_cancellations() {
  std::vector<RequestId> cancelled;
  {
    std::lock_guard lock(mutex_);
    cancelled.swap(cancelled_);
    // Cancelled before admission: finish without running.
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (std::find(cancelled.begin(), cancelled.end(), (*it)->id) != cancelled.end()) {
        finish(**it, FinishReason::cancelled);
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : running_) {
    if (std::find(cancelled.begin(), cancelled.end(), s->id) != cancelled.end()) finish(*s, FinishReason::cancelled);
  }
  release_finished();
}

// A request whose prompt shares a long prefix with a prompt still being prefilled (the choices of
// one request, a common system prompt sent at once) waits until that prefill has written the
// prefix, then copies it: one prefill instead of several, and the first one's batch stays small.
bool Engine::should_wait_for_shared_prefill(const Sequence& s, std::span<const SlotCache::Busy> busy) const {
  const bool mtp = speculation_ == Speculation::mtp;
  const auto now = slots_.choose(s.request.prompt, true, mtp, busy);
  const size_t reuse_now = now ? now->reuse : 0;
  for (const auto& r : running_) {
    const auto& prompt = r->request.prompt;
    if (r->done || r->prefilled == prompt.size()) continue;
    // Once prefilled, r's slot holds its prompt with valid MTP entries for all of it.
    const size_t later = SlotCache::reusable(prompt, prompt.size(), s.request.prompt, mtp);
    if (later >= reuse_now + kMinSharedPrefill) return true;
  }
  return false;
}

void Engine::admit_waiting() {
  struct PrefixCopy {
    Sequence* sequence;
    size_t from;
  };
  std::vector<PrefixCopy> copies;
  const bool mtp = speculation_ == Speculation::mtp;
  // What the sequences running since earlier steps have written: copies may come from there.
  // (Sequences admitted below have nothing written yet; a copy into them may still fail.)
  std::vector<SlotCache::Busy> busy;
  for (const auto& r : running_) {
    if (!r->done) busy.push_back({static_cast<size_t>(r->slot), std::span(r->request.prompt).first(r->prefilled), r->mtp_fed});
  }
  {
    std::lock_guard lock(mutex_);
    while (!waiting_.empty()) {
      Sequence& s = *waiting_.front();
      // A prompt to score is prefilled whole: cached positions would have no logits.
      const bool reuse = limits_.prefix_caching && !s.request.prompt_logprobs;
      if (reuse && should_wait_for_shared_prefill(s, busy)) break;
      const auto choice = slots_.take(s.request.prompt, reuse, mtp, busy);
      if (!choice) break;
      s.slot = static_cast<int32_t>(choice->slot);
      s.prefilled = s.cached = s.mtp_fed = choice->reuse;
      if (choice->copy_from) copies.push_back({&s, *choice->copy_from});
      prompt_tokens_ += s.request.prompt.size();
      cached_tokens_ += choice->reuse;
      running_.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
  }
  // A prefix another free slot holds is copied into the new sequence's slot (SlotCache::take);
  // if the copy fails, the prompt is simply prefilled whole.
  for (const PrefixCopy& c : copies) {
    Sequence& s = *c.sequence;
    try {
      model_.copy_cache_prefix(static_cast<int32_t>(c.from), s.slot, static_cast<int64_t>(s.cached));
    } catch (const std::exception& e) {
      log().warn("prefix cache: copying {} positions from slot {} to slot {} failed ({}); prefilling the whole prompt",
                s.cached, c.from, s.slot, e.what());
      std::lock_guard lock(mutex_);
      cached_tokens_ -= s.cached;
      s.prefilled = s.cached = s.mtp_fed = 0;
    }
  }
  // Before the prefill, so that a crowded batch does not run the MTP module over the new prompts.
  stop_drafting_if_crowded();
}

void Engine::prefill() {
  // This step's share of the prompts not yet in the cache, in admission order, at most
  // limits_.prefill_chunk tokens (0: all of them). Each token carries its sequence's slot and
  // position; a prompt finished in this step gives its last row's logits.
  struct Piece {
    Sequence* s;
    size_t begin, end;  // prompt positions
    size_t first_row;   // in the batch
  };
  std::vector<Piece> pieces;
  std::vector<int32_t> ids, positions, slots;
  // The rows whose logits the head computes: each finished prompt's last row, and with
  // prompt_logprobs every row of the piece (row p scores prompt token p + 1).
  std::vector<size_t> logit_rows;
  struct Scored {
    Sequence* s;
    size_t position;  // prompt position whose row scores the token after it
    size_t logits;    // index into logit_rows
  };
  std::vector<Scored> scored;
  std::vector<std::pair<Sequence*, size_t>> completing;  // and the index of its last row's logits
  size_t budget = limits_.prefill_chunk > 0 ? static_cast<size_t>(limits_.prefill_chunk) : SIZE_MAX;
  for (auto& owned : running_) {
    Sequence& s = *owned;
    const size_t n = s.request.prompt.size();
    if (s.done || s.prefilled == n || budget == 0) continue;
    const size_t take = std::min(n - s.prefilled, budget);
    budget -= take;
    pieces.push_back({&s, s.prefilled, s.prefilled + take, ids.size()});
    for (size_t i = s.prefilled; i < s.prefilled + take; ++i) {
      if (s.request.prompt_logprobs && i + 1 < n) {
        scored.push_back({&s, i, logit_rows.size()});
        logit_rows.push_back(ids.size());
      }
      ids.push_back(s.request.prompt[i]);
      positions.push_back(static_cast<int32_t>(i));
      slots.push_back(s.slot);
    }
    s.prefilled += take;
    if (s.prefilled == n) {
      completing.emplace_back(&s, logit_rows.size());
      logit_rows.push_back(ids.size() - 1);
    }
  }
  if (pieces.empty()) return;
  // Only the rows above need logits; the head runs on those rows alone.
  ForwardResult r = model_.forward({ids, positions, slots}, AttentionForm::naive, logit_rows);
  const size_t vocab = static_cast<size_t>(model_.spec().vocab_size);
  auto logits_of = [&](size_t index) { return std::span<const float>(r.logits).subspan(index * vocab, vocab); };
  for (const Scored& sc : scored) {
    const auto& prompt = sc.s->request.prompt;
    sc.s->prompt_logprobs.push_back(token_logprobs(logits_of(sc.logits), prompt[sc.position + 1], *sc.s->request.prompt_logprobs));
  }
  for (const auto& [s, index] : completing) {
    if (s->request.max_new_tokens == 0) {
      finish(*s, FinishReason::length);  // scoring the prompt only (prompt_logprobs)
      continue;
    }
    advance(*s, logits_of(index));
    propose_ngram_drafts(*s);
  }
  if (speculation_ != Speculation::mtp) return;

  // The MTP module sees the whole prompt, as it will see every later token: its own layer's
  // cache must hold every position its draft attends to. Row i pairs the hidden state at i with
  // the token at i + 1: the prompt's, or for the last row the first token sampled.
  const size_t d = static_cast<size_t>(model_.spec().hidden_size);
  DraftRows rows;
  for (const Piece& piece : pieces) {
    Sequence& s = *piece.s;
    if (!wants_draft(s) || (piece.end == s.request.prompt.size() && s.output.empty())) continue;  // no token follows
    const size_t n = s.request.prompt.size();
    for (size_t i = piece.begin; i < piece.end; ++i) {
      const int32_t next = i + 1 < n ? s.request.prompt[i + 1] : s.output.front();
      rows.add(s, std::span<const float>(r.hidden).subspan((piece.first_row + i - piece.begin) * d, d), next,
               static_cast<int32_t>(i));
    }
    if (piece.end == n) rows.ask_draft(&s);
    s.fed_mtp(piece.begin, piece.end);
  }
  draft(std::move(rows), AttentionForm::naive);
}

void Engine::decode(const std::vector<Sequence*>& sequences) {
  std::vector<Sequence*> active;
  std::vector<size_t> first_row;  // per active sequence: the row of its last token; its drafts follow
  std::vector<int32_t> ids, positions, slots;
  for (Sequence* s : sequences) {
    if (s->done || s->output.empty()) continue;  // finished, or its prompt is still being prefilled
    active.push_back(s);
    first_row.push_back(ids.size());
    ids.push_back(s->output.back());
    positions.push_back(static_cast<int32_t>(s->length() - 1));
    slots.push_back(s->slot);
    for (size_t j = 0; j < s->drafts.size(); ++j) {
      ids.push_back(s->drafts[j]);
      positions.push_back(static_cast<int32_t>(s->length() + static_cast<int64_t>(j)));
      slots.push_back(s->slot);
    }
  }
  if (active.empty()) return;
  ++steps_;
  ForwardResult r = model_.forward({ids, positions, slots}, AttentionForm::absorbed);
  const size_t vocab = static_cast<size_t>(model_.spec().vocab_size);
  const size_t d = static_cast<size_t>(model_.spec().hidden_size);
  auto logits_of = [&](size_t row) { return std::span<const float>(r.logits).subspan(row * vocab, vocab); };
  auto hidden_of = [&](size_t row) { return std::span<const float>(r.hidden).subspan(row * d, d); };

  DraftRows rows;
  for (size_t i = 0; i < active.size(); ++i) {
    Sequence& s = *active[i];
    const size_t row = first_row[i];
    const std::vector<int32_t> guesses = std::exchange(s.drafts, {});
    advance(s, logits_of(row));
    size_t emitted = 1;
    drafted_ += guesses.size();
    for (size_t j = 0; j < guesses.size() && j < kMaxDraftPlaces; ++j) ++drafted_at_[j];
    // Row 1 + j saw guess j in place of the token just sampled; equal, its logits are the main
    // model's for the next position, and the cache entry it wrote is the right one. From the
    // first difference on, the rows are dropped and their entries are overwritten by later steps
    // before anything reads them.
    for (size_t j = 0; j < guesses.size() && !s.done && s.output.back() == guesses[j]; ++j) {
      ++accepted_;
      if (j < kMaxDraftPlaces) ++accepted_at_[j];
      advance(s, logits_of(row + 1 + j));
      ++emitted;
    }
    propose_ngram_drafts(s);
    if (speculation_ != Speculation::mtp || !wants_draft(s)) continue;
    // One MTP row per token emitted, so that the MTP cache covers every position.
    for (size_t k = 0; k < emitted; ++k) {
      rows.add(s, hidden_of(row + k), s.output[s.output.size() - emitted + k], positions[row] + static_cast<int32_t>(k));
    }
    rows.ask_draft(&s);
    s.fed_mtp(static_cast<size_t>(positions[row]), static_cast<size_t>(positions[row]) + emitted);
  }
  draft(std::move(rows), AttentionForm::absorbed);
}

void Engine::release_finished() {
  for (auto& s : running_) {
    if (!s->done || s->slot < 0) continue;
    // Valid entries: the prompt positions prefilled, then every token fed to a decode step (all
    // but the last one generated). A draft's entry past them is never counted; a failed step
    // may have written part of its entries, so the slot then holds nothing.
    std::vector<int32_t> held;
    if (!s->cache_unreliable) {
      const auto& prompt = s->request.prompt;
      held.assign(prompt.begin(), prompt.begin() + static_cast<ptrdiff_t>(s->prefilled));
      if (s->prefilled == prompt.size() && !s->output.empty()) held.insert(held.end(), s->output.begin(), s->output.end() - 1);
    }
    slots_.give_back(static_cast<size_t>(s->slot), std::move(held), s->cache_unreliable ? 0 : s->mtp_fed);
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](const auto& s) { return s->done; }), running_.end());
}

bool Engine::step() {
  const bool had_work = !running_.empty() || waiting() > 0;
  try {
    apply_cancellations();
    // Sequences whose prompts finish prefilling in this step get their first token from the
    // prefill; those that had one before advance by one batched decode. Pointers stay valid:
    // finished sequences are only removed at the end of the step.
    std::vector<Sequence*> carried_over;
    for (auto& s : running_) {
      if (!s->output.empty()) carried_over.push_back(s.get());
    }
    admit_waiting();
    prefill();
    decode(carried_over);
  } catch (const Error& e) {
    // A failing step ends the running requests with the error; the engine stays usable.
    log().error("engine step failed: {}", e.what());
    for (auto& s : running_) {
      s->cache_unreliable = true;  // the failed step may have written part of its entries
      finish(*s, FinishReason::error, e.what());
    }
  }
  release_finished();
  return had_work;
}

}  // namespace fathom::engine
