// Runs of consecutive nodes of a segment that this backend computes with one op instead of one
// op per node. A decode step of a small MoE model is bound by how many kernels it launches as
// much as by memory (each costs microseconds even replayed from a CUDA graph), so the
// executable looks for the DeepSeek graph's recurring patterns and hands each to a fused op,
// which keeps the per-node ops to fall back on where fusing does not pay (many rows).
//
// What makes a run fusable is checked here, on the segment alone: the patterns' intermediate
// tensors must be internal and read by nothing else, since the fused op may never write them.
#pragma once

#include <cstdint>
#include <vector>

#include "fathom/plugin_api.h"
#include "ops/op.h"

namespace fathom::cuda {

enum class FusionKind {
  // matmul(x, W_gate) -> g; matmul(x, W_up) -> u; silu_mul(g, u) -> y   (DeepSeek's dense MLP
  // and shared experts): one gemv of both matrices with the SwiGLU epilogue.
  swiglu_matmul,
  // add(a, b) -> h; rms_norm(h, w) -> x   (a residual add and the next layer's or sublayer's
  // norm): one kernel writes h and x. h may be read elsewhere (it is the residual stream).
  add_rms_norm,
  // matmul(x, W) -> y; add(h, y) -> h'; rms_norm(h', w) -> x'   (o_proj or an MLP's down_proj,
  // the residual add, the next norm): for one or two rows, one gemv launch whose blocks add the
  // residual as they write h' and whose last block normalises. y must be read by nothing else.
  matmul_add_rms_norm,
  // add(y, s) -> f; add(h, f) -> h'; rms_norm(h') -> x   (the routed experts' output plus the
  // shared experts', then the residual add and the next norm): the same kernel, summing three.
  // f must be read by nothing else.
  add_add_rms_norm,
  // slice(src, begin, len) -> t; rms_norm(t, w) or rope_yarn(t, pos) -> y   (MLA's kv_a output:
  // the latent to its norm, the shared rope key to its rotation): the op reads t's columns of
  // src in place, and the copy is not made.
  sliced_rms_norm,
  sliced_rope,
  // matmul(x, W_a) -> a; matmul(x, W_b) -> b, weights stored alike but for their rows (MLA's
  // q_a or q and kv_a projections): one gemv launch streams both, for one or two rows.
  stacked_matmul,
  // rope_yarn(q_raw, pos) -> q; slice(kva) -> l; rms_norm(l) -> latent; slice(kva) -> k;
  // rope_yarn(k, pos) -> k_pe; mla_attention(q, latent, k_pe, pos, ...)   (MLA's inputs from
  // its projections): the attention op's first kernel does the three steps on the way, as it
  // writes the cache row and reads q. Every tensor in between must be read by nothing else.
  mla_prologue,
  // moe_route(x, gate) -> (ids, weights); moe_experts(x, ids, weights, ...) -> y   (a MoE
  // layer's router and routed experts): for a few tokens, the selection and the grouping of
  // the chosen pairs by expert in one kernel. ids and weights must be read by nothing else.
  route_experts,
  // moe_route, moe_experts (a route_experts run); matmul, matmul, silu_mul (the shared experts'
  // swiglu_matmul run, of the same x); matmul (their down projection); add(routed, shared),
  // add(h, ·), rms_norm (an add_add_rms_norm run)   (a MoE layer to the next norm): for a
  // decode step's tokens, the shared experts as more groups of the routed experts' products, and
  // the tokens' sums in the norm's kernel. The tensors in between must be read by nothing else.
  moe_block,
};

struct Fusion {
  FusionKind kind;
  uint32_t first = 0, last = 0;  // node indices, inclusive; the fused op runs in place of `last`,
                                 // so the executable keeps every input of the run alive until then
};

// The fusable runs, in node order, none overlapping.
std::vector<Fusion> find_fusions(const fathom_segment& segment, const std::vector<TensorInfo>& tensors);

}  // namespace fathom::cuda
