// Multi-head latent attention over the latent cache (DeepSeek-V2/V3), both forms.
//
// First every token's [latent ; k_pe] is written to cache[slot][position] (all writes before any
// read, in token order, as the reference does); then token t attends per head over
// cache[slot_t][0 ..= position_t]. kv_b rows h·(dn+dv) .. h·(dn+dv)+dn-1 are head h's W_UK, the
// next dv rows its W_UV.
//
// Absorbed form (decode): q_abs = W_UKᵀ·q_nope, scores over the latent rows directly,
// o = W_UV·(Σ p·c). For up to kStreamRowsMaxTokens tokens the W_UK/W_UV products read kv_b in its
// stored format through the GEMV kernels (transposed for W_UKᵀ), per head and token, scales
// folded in per 128-row run; for more, per (head, block of tokens), each row widened to exact f32
// once per item and serving all its tokens. Scores and Σ p·c run per token for all heads at
// once, by two sgemms over the token's cache rows.
// Naive form (prefill): per (sequence, head), [K_nope | V] = cache_rows · W_headᵀ by one sgemm
// over the sequence's cached rows, then per block of its tokens the scores against the positions
// the block reaches (two sgemms), each token's softmax over its own prefix, and P·V (one sgemm). This
// is (dn+dv)/(2C) of the absorbed form's work per (token, position), the right form for long
// prompts.
//
// Everything is f32: with f32 accumulation the results stay within ~1e-6 of the f64 reference
// (the conformance tolerance for an f32 reduction), whatever kv_b's format.
#include <dnnl.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fathom/sdk/float_formats.hpp"
#include "matmul/weight_view.h"
#include "ops/ops.h"
#include "parallel.h"
#include "scratch.h"

namespace fathom::cpu {

namespace {

struct Dims {
  int64_t h, dn, dr, dv, c, slots, max_len, row;  // row = c + dr, one cache entry
};

class MlaAttention final : public sdk::PreparedNode {
 public:
  MlaAttention(CpuContext& ctx, const sdk::PrepareArgs& args) : ctx_(ctx) {
    a_ = sdk::KernelArgs{{}, {}, args.op.attrs, args.op.attrs_size}.attrs_as<fathom_mla_attrs>();
    scaled_ = args.in[5]->desc.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
    kvb_constant_ = args.is_constant(5) && (!scaled_ || args.is_constant(6));
    if (kvb_constant_) {
      kvb_ = weight_view(*args.in[5], scaled_ ? args.in[6] : nullptr);
      mark_nan_codes(kvb_);
    }
  }

  void run(const sdk::KernelArgs& args) override {
    const sdk::HostTensor& cache = *args.in[scaled_ ? 7 : 6];
    const Dims d{a_.n_heads, a_.qk_nope_dim, a_.qk_rope_dim, a_.v_dim, a_.kv_lora_rank,
                 cache.dim(0), cache.dim(1), a_.kv_lora_rank + a_.qk_rope_dim};
    const int64_t tokens = args.in[0]->dim(0);
    if (tokens == 0) return;
    const int32_t* pos = args.in[3]->as<const int32_t>();
    const int32_t* slot = args.in[4]->as<const int32_t>();
    for (int64_t t = 0; t < tokens; ++t) {
      if (slot[t] < 0 || slot[t] >= d.slots)
        sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "mla_attention: slot " + std::to_string(slot[t]) + " outside the cache's " +
                                                  std::to_string(d.slots) + " slots");
      if (pos[t] < 0 || pos[t] >= d.max_len)
        sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "mla_attention: position " + std::to_string(pos[t]) +
                                                  " outside the cache's " + std::to_string(d.max_len) + " positions");
    }
    WeightView kvb = kvb_;
    if (!kvb_constant_) {
      kvb = weight_view(*args.in[5], scaled_ ? args.in[6] : nullptr);
      mark_nan_codes(kvb);
    }
    write_cache(args, cache, d);
    Cache rows = readable_cache(cache, d, pos, slot, tokens);
    if (a_.absorbed) attend_absorbed(args, d, kvb, rows);
    else attend_naive(args, d, kvb, rows);
  }

 private:
  // The cache as f32 rows: the cache itself when it is f32, else a widened copy of the rows this
  // call reads — each slot's first len rows, packed, never the whole cache (slots × max_seq_len
  // rows, mostly unused).
  struct Cache {
    const float* base = nullptr;
    std::unique_ptr<float[]> copy;  // uninitialised: every element read is written first
    std::vector<int64_t> offset;    // a 16-bit cache: where each slot's rows start in `copy`
    const float* rows(int64_t slot, const Dims& d) const {
      return offset.empty() ? base + slot * d.max_len * d.row : copy.get() + offset[static_cast<size_t>(slot)];
    }
  };

  void write_cache(const sdk::KernelArgs& args, const sdk::HostTensor& cache, const Dims& d) const {
    const int64_t tokens = args.in[0]->dim(0);
    const float* latent = args.in[1]->as<const float>();
    const float* k_pe = args.in[2]->as<const float>();
    const int32_t* pos = args.in[3]->as<const int32_t>();
    const int32_t* slot = args.in[4]->as<const int32_t>();
    std::vector<float> entry(static_cast<size_t>(d.row));
    for (int64_t t = 0; t < tokens; ++t) {
      std::copy(latent + t * d.c, latent + (t + 1) * d.c, entry.begin());
      std::copy(k_pe + t * d.dr, k_pe + (t + 1) * d.dr, entry.begin() + d.c);
      const int64_t at = (slot[t] * d.max_len + pos[t]) * d.row;
      switch (cache.dtype()) {
        case FATHOM_DTYPE_F32: std::copy(entry.begin(), entry.end(), cache.as<float>() + at); break;
        case FATHOM_DTYPE_BF16: ctx_.isa->to_bf16(entry.data(), cache.as<uint16_t>() + at, d.row); break;
        default:
          for (int64_t i = 0; i < d.row; ++i) cache.as<uint16_t>()[at + i] = sdk::floats::f32_to_f16(entry[static_cast<size_t>(i)]);
      }
    }
  }

  Cache readable_cache(const sdk::HostTensor& cache, const Dims& d, const int32_t* pos, const int32_t* slot,
                       int64_t tokens) const {
    Cache out;
    if (cache.dtype() == FATHOM_DTYPE_F32) {
      out.base = cache.as<const float>();
      return out;
    }
    std::vector<int64_t> len(static_cast<size_t>(d.slots), 0);
    for (int64_t t = 0; t < tokens; ++t) len[static_cast<size_t>(slot[t])] = std::max<int64_t>(len[static_cast<size_t>(slot[t])], pos[t] + 1);
    out.offset.resize(static_cast<size_t>(d.slots));
    int64_t total = 0;
    for (int64_t s = 0; s < d.slots; ++s) {
      out.offset[static_cast<size_t>(s)] = total;
      total += len[static_cast<size_t>(s)] * d.row;
    }
    out.copy.reset(new float[static_cast<size_t>(std::max<int64_t>(total, 1))]);
    const WFormat fmt = cache.dtype() == FATHOM_DTYPE_BF16 ? WFormat::bf16 : WFormat::f16;
    // In pieces of at most 64 rows, shared among the threads: a long sequence's widening is as
    // much memory traffic as its attention.
    constexpr int64_t kPiece = 64;
    std::vector<std::pair<int64_t, int64_t>> pieces;  // (slot, first row)
    for (int64_t s = 0; s < d.slots; ++s)
      for (int64_t r = 0; r < len[static_cast<size_t>(s)]; r += kPiece) pieces.emplace_back(s, r);
    const int threads = threads_for(ctx_.threads(), static_cast<double>(total) * 6, 2e5);
    parallel_items(static_cast<int64_t>(pieces.size()), threads, [&](int64_t i) {
      const auto [s, r] = pieces[static_cast<size_t>(i)];
      const int64_t n = std::min(kPiece, len[static_cast<size_t>(s)] - r);
      ctx_.isa->widen(fmt, cache.as<const uint16_t>() + (s * d.max_len + r) * d.row,
                      out.copy.get() + out.offset[static_cast<size_t>(s)] + r * d.row, n * d.row);
    });
    return out;
  }

  // W_UK (dn rows) then W_UV (dv rows) of head h, as f32 [(dn + dv), C].
  float* head_weights(const WeightView& kvb, const Dims& d, int64_t h) const {
    float* w = scratch<float>(Scratch::weights, static_cast<size_t>((d.dn + d.dv) * d.c));
    widen_rows(*ctx_.isa, kvb, h * (d.dn + d.dv), (h + 1) * (d.dn + d.dv), w, d.c);
    return w;
  }

  // What both forms read from their arguments: queries [T, H·(dn + dr)], positions, slots and
  // the output [T, H·dv].
  struct Call {
    int64_t tokens;
    const float* q;
    const int32_t* pos;
    const int32_t* slot;
    float* out;
    explicit Call(const sdk::KernelArgs& args)
        : tokens(args.in[0]->dim(0)),
          q(args.in[0]->as<const float>()),
          pos(args.in[3]->as<const int32_t>()),
          slot(args.in[4]->as<const int32_t>()),
          out(args.out[0]->as<float>()) {}
  };

  // Up to this many tokens, the absorbed form reads W_UK/W_UV with the GEMV kernels once per
  // token (decode: 0.74 → 0.49 ms per layer on the V2-Lite-shaped benchmark, one Zen 4 core,
  // against widening each row to f32 first). Up to this many tokens per work item, the widening
  // path widens one row at a time into an L1-resident buffer and applies it to every token of
  // the item at once; beyond it, the head's whole f32 copy (512 KB at V3 sizes) is cheaper than
  // widening each row again per token block.
  static constexpr int64_t kStreamRowsMaxTokens = 8;

  // f(h, t0, t1, row) over work items (head h, tokens t0..t1-1) spread over the threads, where
  // row(j) is row j of head h's [W_UK ; W_UV] as f32 (from the whole-head copy, or widened on
  // demand).
  template <typename F>
  void for_head_items(const Dims& d, const WeightView& kvb, int64_t tokens, double work, F&& f) const {
    const int threads = ctx_.threads();
    const int64_t blocks = std::clamp<int64_t>((2 * threads + d.h - 1) / d.h, 1, tokens);
    const int64_t per_block = (tokens + blocks - 1) / blocks;
    parallel_items(d.h * blocks, threads_for(threads, work, 2e5), [&](int64_t item) {
      const int64_t h = item / blocks, t0 = (item % blocks) * per_block, t1 = std::min(tokens, t0 + per_block);
      if (t0 >= t1) return;
      const bool stream_rows = t1 - t0 <= kStreamRowsMaxTokens;
      const float* whole = stream_rows ? nullptr : head_weights(kvb, d, h);
      float* one_row = stream_rows ? scratch<float>(Scratch::weights, static_cast<size_t>(d.c)) : nullptr;
      auto row = [&](int64_t j) -> const float* {
        if (!stream_rows) return whole + j * d.c;
        const int64_t r = h * (d.dn + d.dv) + j;
        widen_rows(*ctx_.isa, kvb, r, r + 1, one_row, d.c);
        return one_row;
      };
      f(h, t0, t1, row);
    });
  }

  // f(a, b, s) over the rows [r0, r1) of w in runs that share one row of block scales s (null
  // without scales).
  template <typename F>
  static void for_scale_runs(const WeightView& w, int64_t r0, int64_t r1, F&& f) {
    for (int64_t a = r0; a < r1;) {
      const int64_t b = w.scales ? std::min(r1, (a / 128 + 1) * 128) : r1;
      f(a, b, w.scales ? w.scales + (a / 128) * w.scale_cols() : nullptr);
      a = b;
    }
  }

  // The factor a block's columns take: its scale, times 2^8 for E4M3 (the GEMV view, isa.h).
  static float column_factor(const WeightView& w, const float* s, int64_t c) {
    return (s ? s[c / 128] : 1.0f) * (w.fmt == WFormat::e4m3 ? kE4M3GemvScale : 1.0f);
  }

  // q_abs = W_UKᵀ · q_nope for head h (y: C floats), by the transposed GEMV on kv_b's stored
  // rows; each run's scales multiply its partial sum per 128-column block.
  void absorb_query(const WeightView& kvb, const Dims& d, int64_t h, const float* q_nope, float* y) const {
    const IsaKernels& isa = *ctx_.isa;
    const int64_t base = h * (d.dn + d.dv);
    float* part = scratch<float>(Scratch::weights, static_cast<size_t>(d.c));
    std::fill(y, y + d.c, 0.0f);
    for_scale_runs(kvb, base, base + d.dn, [&](int64_t a, int64_t b, const float* s) {
      isa.gemv_t(kvb.fmt, kvb.row(a), d.c, b - a, d.c, q_nope + (a - base), part);
      for (int64_t c0 = 0; c0 < d.c; c0 += 128)
        isa.axpy(column_factor(kvb, s, c0), part + c0, y + c0, std::min<int64_t>(128, d.c - c0));
    });
  }

  // o = W_UV · o_lat for head h (o: dv floats), by the GEMV on kv_b's stored rows; each run's
  // scales are folded into a copy of o_lat.
  void project_value(const WeightView& kvb, const Dims& d, int64_t h, const float* o_lat, float* o) const {
    const IsaKernels& isa = *ctx_.isa;
    const int64_t base = h * (d.dn + d.dv) + d.dn;
    float* xs = scratch<float>(Scratch::weights, static_cast<size_t>(d.c));
    for_scale_runs(kvb, base, base + d.dv, [&](int64_t a, int64_t b, const float* s) {
      for (int64_t c = 0; c < d.c; ++c) xs[c] = o_lat[c] * column_factor(kvb, s, c);
      isa.gemv(kvb.fmt, kvb.row(a), d.c, b - a, d.c, xs, d.c, 1, o + (a - base), 1);
    });
  }

  // Three steps, so that each token's cache rows are read once for all heads (not once per
  // head: at a 4096-token context that was 16 × 2 passes over 9.4 MB per layer, 8 ms per layer
  // per token on the development machine):
  //  1. per (head, tokens): q_abs = W_UKᵀ·q_nope, written beside q_pe as one [C + dr] query row;
  //  2. per token, over all heads at once: P[H, len] = Q · rowsᵀ (one sgemm), softmax per head,
  //     o_lat[H, C] = P · rows[:, :C] (a second sgemm);
  //  3. per (head, tokens): o = W_UV·o_lat.
  void attend_absorbed(const sdk::KernelArgs& args, const Dims& d, const WeightView& kvb, const Cache& cache) const {
    const auto [tokens, q, pos, slot, out] = Call(args);
    const IsaKernels& isa = *ctx_.isa;
    const int64_t qw = d.row;  // a query row pairs with a cache row: [q_abs ; q_pe] · [latent ; k_pe]
    std::vector<float> queries(static_cast<size_t>(tokens * d.h * qw), 0.0f);
    std::vector<float> o_lat(static_cast<size_t>(tokens * d.h * d.c));
    auto q_nope_of = [&](int64_t t, int64_t h) { return q + t * d.h * (d.dn + d.dr) + h * (d.dn + d.dr); };
    const double weight_work = static_cast<double>(tokens * d.h * (d.dn + d.dv) * d.c);
    // Few tokens (decode): the GEMV kernels read kv_b's rows in their stored format, once per
    // token, with no f32 copy (a head's rows stay in L2 between tokens). Many: widened once per
    // work item and shared by its tokens (for_head_items).
    const bool direct = !kvb.nan_codes && tokens <= kStreamRowsMaxTokens;
    const int direct_threads = threads_for(ctx_.threads(), weight_work, 2e5);

    if (direct) {
      parallel_items(d.h, direct_threads, [&](int64_t h) {
        for (int64_t t = 0; t < tokens; ++t) {
          absorb_query(kvb, d, h, q_nope_of(t, h), queries.data() + (t * d.h + h) * qw);
          std::copy_n(q_nope_of(t, h) + d.dn, d.dr, queries.data() + (t * d.h + h) * qw + d.c);
        }
      });
    } else {
      for_head_items(d, kvb, tokens, weight_work, [&](int64_t h, int64_t t0, int64_t t1, auto& row) {
        for (int64_t j = 0; j < d.dn; ++j) {
          const float* w = row(j);
          for (int64_t t = t0; t < t1; ++t) isa.axpy(q_nope_of(t, h)[j], w, queries.data() + (t * d.h + h) * qw, d.c);
        }
        for (int64_t t = t0; t < t1; ++t) {
          std::copy_n(q_nope_of(t, h) + d.dn, d.dr, queries.data() + (t * d.h + h) * qw + d.c);
        }
      });
    }

    for (int64_t t = 0; t < tokens; ++t) {
      const float* rows = cache.rows(slot[t], d);
      const int64_t len = pos[t] + 1;
      float* p = scratch<float>(Scratch::attention, static_cast<size_t>(d.h * len));
      sgemm('N', 'T', d.h, len, qw, a_.softmax_scale, queries.data() + t * d.h * qw, qw, rows, d.row, 0.0f, p, len);
      for (int64_t h = 0; h < d.h; ++h) isa.softmax(p + h * len, len);
      sgemm('N', 'N', d.h, d.c, len, 1.0f, p, len, rows, d.row, 0.0f, o_lat.data() + t * d.h * d.c, d.c);
    }

    if (direct) {
      parallel_items(d.h, direct_threads, [&](int64_t h) {
        for (int64_t t = 0; t < tokens; ++t)
          project_value(kvb, d, h, o_lat.data() + (t * d.h + h) * d.c, out + t * d.h * d.dv + h * d.dv);
      });
      return;
    }
    for_head_items(d, kvb, tokens, weight_work, [&](int64_t h, int64_t t0, int64_t t1, auto& row) {
      for (int64_t j = 0; j < d.dv; ++j) {
        const float* w = row(d.dn + j);
        for (int64_t t = t0; t < t1; ++t) {
          out[t * d.h * d.dv + h * d.dv + j] = isa.dot(w, o_lat.data() + (t * d.h + h) * d.c, d.c);
        }
      }
    });
  }

  static void sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    if (dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) != dnnl_success)
      sdk::fail(FATHOM_STATUS_INTERNAL, "mla_attention: oneDNN sgemm failed");
  }

  // Tokens whose scores the naive form computes together.
  static constexpr int64_t kScoreRows = 64;

  void attend_naive(const sdk::KernelArgs& args, const Dims& d, const WeightView& kvb, const Cache& cache) const {
    const auto [tokens, q, pos, slot, out] = Call(args);
    const IsaKernels& isa = *ctx_.isa;

    // The batch's sequences: slot → its tokens and the longest prefix they read.
    std::map<int32_t, std::vector<int64_t>> by_slot;
    for (int64_t t = 0; t < tokens; ++t) by_slot[slot[t]].push_back(t);
    struct Seq {
      int32_t slot;
      int64_t len;
      std::vector<int64_t> tokens;
    };
    std::vector<Seq> seqs;
    int64_t work = 0;
    for (auto& [s, ts] : by_slot) {
      int64_t len = 0;
      for (int64_t t : ts) len = std::max<int64_t>(len, pos[t] + 1);
      work += len * (d.dn + d.dv) * (d.c + static_cast<int64_t>(ts.size()));
      seqs.push_back({s, len, std::move(ts)});
    }
    const int64_t kv_width = d.dn + d.dv;
    const int t_used = threads_for(ctx_.threads(), static_cast<double>(work * d.h), 2e5);
    parallel_items(static_cast<int64_t>(seqs.size()) * d.h, t_used, [&](int64_t item) {
      const Seq& seq = seqs[static_cast<size_t>(item / d.h)];
      const int64_t h = item % d.h;
      const float* w = head_weights(kvb, d, h);
      const float* rows = cache.rows(seq.slot, d);
      // [K_nope | V] for every cached position of the sequence: rows[len, C] · w[(dn+dv), C]ᵀ.
      float* kv = scratch<float>(Scratch::attention2, static_cast<size_t>(seq.len * kv_width));
      sgemm('N', 'T', seq.len, kv_width, d.c, 1.0f, rows, d.row, w, d.c, 0.0f, kv, kv_width);
      // The sequence's queries for head h, gathered: [q_nope | q_pe] per token.
      const int64_t nt = static_cast<int64_t>(seq.tokens.size()), qw = d.dn + d.dr;
      float* qs = scratch<float>(Scratch::attention, static_cast<size_t>(nt * qw + nt * seq.len + nt * d.dv));
      float* scores = qs + nt * qw;
      float* o = scores + nt * seq.len;
      for (int64_t i = 0; i < nt; ++i) {
        const float* src = q + seq.tokens[static_cast<size_t>(i)] * d.h * qw + h * qw;
        std::copy_n(src, qw, qs + i * qw);
      }
      // Per block of kScoreRows tokens, the scores against the positions the block reaches (the
      // longest of its prefixes: a prompt's first tokens skip the positions after them, about half
      // the work of a long prefill), by two sgemms (q_nope·K_nopeᵀ, then + q_pe·k_peᵀ); each token
      // keeps its own prefix (positions ≤ its own); then P·V.
      for (int64_t i0 = 0; i0 < nt; i0 += kScoreRows) {
        const int64_t bn = std::min(kScoreRows, nt - i0);
        int64_t reach = 0;
        for (int64_t i = i0; i < i0 + bn; ++i) reach = std::max<int64_t>(reach, pos[seq.tokens[static_cast<size_t>(i)]] + 1);
        float* block = scores + i0 * seq.len;
        const float* qb = qs + i0 * qw;
        sgemm('N', 'T', bn, reach, d.dn, a_.softmax_scale, qb, qw, kv, kv_width, 0.0f, block, seq.len);
        sgemm('N', 'T', bn, reach, d.dr, a_.softmax_scale, qb + d.dn, qw, rows + d.c, d.row, 1.0f, block, seq.len);
        for (int64_t i = 0; i < bn; ++i) {
          float* p = block + i * seq.len;
          const int64_t len = pos[seq.tokens[static_cast<size_t>(i0 + i)]] + 1;
          isa.softmax(p, len);
          std::fill(p + len, p + reach, 0.0f);
        }
        sgemm('N', 'N', bn, d.dv, reach, 1.0f, block, seq.len, kv + d.dn, kv_width, 0.0f, o + i0 * d.dv, d.dv);
      }
      for (int64_t i = 0; i < nt; ++i) {
        std::copy_n(o + i * d.dv, d.dv, out + seq.tokens[static_cast<size_t>(i)] * d.h * d.dv + h * d.dv);
      }
    });
  }

  CpuContext& ctx_;
  fathom_mla_attrs a_{};
  bool scaled_ = false, kvb_constant_ = false;
  WeightView kvb_;
};

}  // namespace

Prepared prepare_mla_attention(CpuContext& ctx, const sdk::PrepareArgs& args) {
  return std::make_unique<MlaAttention>(ctx, args);
}

}  // namespace fathom::cpu
