// Multi-head latent attention over the latent cache (DeepSeek-V2/V3 MLA), in the absorbed form:
//
//   1. write the cache:  cache[slot_t][pos_t] = [latent_t ; k_pe_t] for every token first
//                        (done by the kernel of step 2: one launch less per layer);
//   2. mla_absorb_q:     q_abs[t][h][c] = Σ_j q_nope[t][h][j] · W_UK[h][j][c];
//   3. mla_attend:       per token and head, softmax over cache[slot_t][0 ..= pos_t] of
//                        (q_abs · c_s + q_pe · k_pe_s) · scale, and o_lat = Σ_s p_s c_s; the
//                        positions are split among blocks (flash-decoding) and each split keeps
//                        its running max m and sum l;
//   4. merge:            the splits into o_lat[t][h][c] (done by the kernel of step 5, in
//                        shared memory: one launch less per layer);
//   5. mla_project_out:  o[t][h][j] = Σ_c o_lat[t][h][c] · W_UV[h][j][c].
// So a layer's attention is three kernels: absorb_q, attend, merge_project_out.
//
// The naive form of the op (keys and values decompressed with kv_b) is the same function; both
// forms run this path and agree with the reference to f32 rounding. W_UK and W_UV are read from
// kv_b as stored (any weight format, dequantised in registers), so nothing is materialised.
// Activations are f32; the cache is f32 or bf16.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/matmul_problem.cuh"

namespace fathom::gpu {

struct MlaShape {
  int32_t heads, nope, rope, v, rank;  // H, dn, dr, dv, C
  int64_t slots, max_len;              // cache [slots][max_len][C + dr]
  float softmax_scale;
};

// Limits of this implementation (checked by the op's support query).
constexpr int kMlaMaxNope = 512;
constexpr int kMlaMaxRow = 768;  // C + dr
constexpr int kMlaMaxSplits = 64;  // position splits per token and head group

// The op's inputs one step earlier (FusionKind::mla_prologue): kv_a's output rows, not yet
// normalised and rotated, and q before its rope. The q-absorption kernel (step 2) then
// normalises the latent and rotates k_pe as it writes the cache row (step 1), and rotates q's
// rope part into MlaArgs::q_pe, so that three kernels of the layer are not launched.
struct MlaPrologue {
  const float* kva = nullptr;  // row t: latent at kva[t * kva_ld + latent_begin], k_pe at ... + k_pe_begin
  int64_t kva_ld = 0, latent_begin = 0, k_pe_begin = 0;
  const void* norm_w = nullptr;  // the latent's rms_norm: weight [C] and eps
  uint32_t norm_w_dtype = 0;
  float eps = 0.f;
  const float* q_inv_freq = nullptr;  // q's rope (the last dr of each head) and k_pe's
  const float* k_inv_freq = nullptr;
  float q_amplitude = 1.f, k_amplitude = 1.f;
  float* q_pe_out = nullptr;  // where step 2 writes q's rotated rope part (= MlaArgs::q_pe)
};

struct MlaArgs {
  MlaShape shape;
  int64_t tokens;
  const float* q;        // [T][H * (dn + dr)]; with a prologue, before its rope
  const float* latent;   // [T][C]   (unused with a prologue)
  const float* k_pe;     // [T][dr]  (unused with a prologue)
  // Where attend reads the rotated rope part of q: element i of head h of token t at
  // q_pe[t * q_pe_token_stride + h * q_pe_head_stride + i]. Left null, it is q's own (q + dn);
  // with a prologue, the launch points it into the workspace, where step 2 writes it.
  const float* q_pe = nullptr;
  int64_t q_pe_token_stride = 0, q_pe_head_stride = 0;
  MlaPrologue prologue;
  const int32_t* positions;
  const int32_t* slots;
  uint32_t kv_b_dtype;
  MatrixRef kv_b;        // [H * (dn + dv)][C] (+ scales), row0 = 0
  void* cache;
  uint32_t cache_dtype;  // F32 or BF16
  float* out;            // [T][H * dv]
  int* error;            // the executable's error word
  int splits;            // position splits per (token, head group)
  float* workspace;      // mla_workspace_floats(...)
};

// Splits of the positions for `tokens` tokens (a function of sizes only, so that CUDA graphs
// can capture the launches), and the f32 workspace the whole computation needs (with a
// prologue, T * H * dr more: mla_prologue_workspace_floats).
int mla_splits(const MlaShape& shape, int64_t tokens, int sm_count);
size_t mla_workspace_floats(const MlaShape& shape, int64_t max_tokens, int sm_count);
size_t mla_prologue_workspace_floats(const MlaShape& shape, int64_t max_tokens);

void launch_mla_attention(const MlaArgs& args, cudaStream_t stream);

// The parts, for the benchmark (the decode bandwidth of mla_attend alone).
// absorb_q also writes the tokens' cache rows (step 1).
void launch_mla_absorb_q(const MlaArgs& args, float* q_abs, cudaStream_t stream);
void launch_mla_attend(const MlaArgs& args, const float* q_abs, float* partial, cudaStream_t stream);
// Steps 4 and 5 in one kernel: each block merges its tokens' splits for its head, then projects.
void launch_mla_merge_project_out(const MlaArgs& args, const float* partial, cudaStream_t stream);

}  // namespace fathom::gpu
