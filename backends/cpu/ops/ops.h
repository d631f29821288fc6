// The ops of the CPU backend: for each, which signatures it accepts (dtypes; the structure is
// checked by sdk::check_signature first) and a prepare function that builds the node's
// PreparedNode at compile (packing weights, precomputing tables).
#pragma once

#include <memory>

#include "cpu_context.h"
#include "fathom/sdk/host_backend.hpp"

namespace fathom::cpu {

using Prepared = std::unique_ptr<sdk::PreparedNode>;

// FATHOM_SUPPORT_YES, or NO with a reason users see in placement reports.
fathom_op_support op_support(const fathom_op_desc& op);

Prepared prepare_embedding(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_rms_norm(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_matmul(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_add(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_silu_mul(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_rope_yarn(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_mla_attention(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_moe_route(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_moe_experts(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_slice(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_concat(CpuContext& ctx, const sdk::PrepareArgs& args);
Prepared prepare_convert(CpuContext& ctx, const sdk::PrepareArgs& args);

class Matrix;
// The shared, prepared form of a bound weight matrix (and its scales, or null).
std::shared_ptr<const Matrix> prepared_matrix(CpuContext& ctx, const sdk::HostTensor& w, const sdk::HostTensor* scales);

// A PreparedNode that calls a lambda (for ops whose only state is captured values).
template <typename F>
class LambdaNode final : public sdk::PreparedNode {
 public:
  explicit LambdaNode(F f) : f_(std::move(f)) {}
  void run(const sdk::KernelArgs& args) override { f_(args); }

 private:
  F f_;
};

template <typename F>
Prepared make_node(F f) {
  return std::make_unique<LambdaNode<F>>(std::move(f));
}

}  // namespace fathom::cpu
