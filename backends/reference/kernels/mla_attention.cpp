// Multi-head latent attention (spec §2.4 naive form, §2.7 absorbed form) over a latent cache.
//
// Shapes: H heads, dn = qk_nope_dim, dr = qk_rope_dim, dv = v_dim, C = kv_lora_rank.
//   q[T, H·(dn+dr)]   row h·(dn+dr)+j: nope for j < dn, roped pe for j ≥ dn
//   latent[T, C], k_pe[T, dr], positions[T], slots[T]
//   kv_b[H·(dn+dv), C]: row h·(dn+dv)+j is W_UK for j < dn, W_UV for j ≥ dn
//   cache[S, L, C+dr]: cache[slot][pos] = [latent ; k_pe]
//   o[T, H·dv]
// Step 1 writes every token into the cache; step 2 lets token t attend over
// cache[slot_t][0 ..= pos_t]. Naive: k_nope = W_UK·c, v = W_UV·c per cached position;
// absorbed: q_abs = W_UKᵀ·q_nope, score over c directly, o = W_UV·Σ p·c. Softmax in f64 here
// (f32 in the references); all sums in f64. Both forms agree to rounding.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/dequantize.h"
#include "kernels/kernels.h"

namespace fathom::reference {

namespace {

struct Dims {
  int64_t h, dn, dr, dv, c, slots, max_len;
};

// p = softmax(scores) in place.
void softmax(std::vector<double>& scores) {
  double max = -std::numeric_limits<double>::infinity();
  for (double s : scores) max = std::max(max, s);
  double sum = 0;
  for (double& s : scores) sum += (s = std::exp(s - max));
  for (double& s : scores) s /= sum;
}

}  // namespace

void mla_attention(const KernelArgs& args) {
  const auto a = args.attrs_as<fathom_mla_attrs>();
  const bool scaled = args.in[5]->desc.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
  const auto& q = *args.in[0];
  const auto& latent = *args.in[1];
  const auto& k_pe = *args.in[2];
  const int32_t* positions = args.in[3]->as<const int32_t>();
  const int32_t* slots = args.in[4]->as<const int32_t>();
  const auto& cache = *args.in[scaled ? 7 : 6];
  const auto& out = *args.out[0];
  const Dims d{a.n_heads, a.qk_nope_dim, a.qk_rope_dim, a.v_dim, a.kv_lora_rank, cache.dim(0), cache.dim(1)};
  const int64_t tokens = q.dim(0), row = d.c + d.dr;
  const std::vector<float> kv_b = dequantize(*args.in[5], scaled ? args.in[6] : nullptr);
  auto w_uk = [&](int64_t h, int64_t j, int64_t c) { return kv_b[static_cast<size_t>((h * (d.dn + d.dv) + j) * d.c + c)]; };
  auto w_uv = [&](int64_t h, int64_t j, int64_t c) { return kv_b[static_cast<size_t>((h * (d.dn + d.dv) + d.dn + j) * d.c + c)]; };

  // 1. Write the new tokens into the cache.
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t slot = slots[t], pos = positions[t];
    if (slot < 0 || slot >= d.slots)
      sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "mla_attention: slot " + std::to_string(slot) + " outside the cache's " +
                                                std::to_string(d.slots) + " slots");
    if (pos < 0 || pos >= d.max_len)
      sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "mla_attention: position " + std::to_string(pos) +
                                                " outside the cache's " + std::to_string(d.max_len) + " positions");
    const int64_t base = (slot * d.max_len + pos) * row;
    for (int64_t c = 0; c < d.c; ++c) store_f32(cache, base + c, load_f32(latent, t * d.c + c));
    for (int64_t r = 0; r < d.dr; ++r) store_f32(cache, base + d.c + r, load_f32(k_pe, t * d.dr + r));
  }

  // 2. Attend.
  std::vector<double> scores, q_abs(static_cast<size_t>(d.c)), o_lat(static_cast<size_t>(d.c));
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t slot = slots[t], len = positions[t] + 1;
    auto cached = [&](int64_t s, int64_t i) { return static_cast<double>(load_f32(cache, (slot * d.max_len + s) * row + i)); };
    for (int64_t h = 0; h < d.h; ++h) {
      const int64_t qbase = t * d.h * (d.dn + d.dr) + h * (d.dn + d.dr);
      auto q_nope = [&](int64_t j) { return static_cast<double>(load_f32(q, qbase + j)); };
      auto q_pe = [&](int64_t r) { return static_cast<double>(load_f32(q, qbase + d.dn + r)); };
      scores.assign(static_cast<size_t>(len), 0.0);
      if (a.absorbed) {
        for (int64_t c = 0; c < d.c; ++c) {
          double sum = 0;
          for (int64_t j = 0; j < d.dn; ++j) sum += q_nope(j) * w_uk(h, j, c);
          q_abs[static_cast<size_t>(c)] = sum;
        }
      }
      for (int64_t s = 0; s < len; ++s) {
        double dot = 0;
        if (a.absorbed) {
          for (int64_t c = 0; c < d.c; ++c) dot += q_abs[static_cast<size_t>(c)] * cached(s, c);
        } else {
          for (int64_t j = 0; j < d.dn; ++j) {
            double k = 0;
            for (int64_t c = 0; c < d.c; ++c) k += w_uk(h, j, c) * cached(s, c);
            dot += q_nope(j) * k;
          }
        }
        for (int64_t r = 0; r < d.dr; ++r) dot += q_pe(r) * cached(s, d.c + r);
        scores[static_cast<size_t>(s)] = dot * a.softmax_scale;
      }
      softmax(scores);
      const int64_t obase = t * d.h * d.dv + h * d.dv;
      if (a.absorbed) {
        for (int64_t c = 0; c < d.c; ++c) {
          double sum = 0;
          for (int64_t s = 0; s < len; ++s) sum += scores[static_cast<size_t>(s)] * cached(s, c);
          o_lat[static_cast<size_t>(c)] = sum;
        }
        for (int64_t j = 0; j < d.dv; ++j) {
          double sum = 0;
          for (int64_t c = 0; c < d.c; ++c) sum += o_lat[static_cast<size_t>(c)] * w_uv(h, j, c);
          store_f32(out, obase + j, static_cast<float>(sum));
        }
      } else {
        for (int64_t j = 0; j < d.dv; ++j) {
          double sum = 0;
          for (int64_t s = 0; s < len; ++s) {
            double v = 0;
            for (int64_t c = 0; c < d.c; ++c) v += w_uv(h, j, c) * cached(s, c);
            sum += scores[static_cast<size_t>(s)] * v;
          }
          store_f32(out, obase + j, static_cast<float>(sum));
        }
      }
    }
  }
}

}  // namespace fathom::reference
