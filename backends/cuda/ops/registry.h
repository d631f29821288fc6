// The ops this backend implements: for each, a support query (dtypes and limits, after the
// shared structural check) and a factory. backend.cpp dispatches through this table.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ops/op.h"

namespace fathom::cuda {

struct OpEntry {
  uint32_t op;
  fathom_op_support (*support)(const fathom_op_desc& desc);
  std::unique_ptr<Op> (*make)(const OpBuild& build);
};

std::span<const OpEntry> op_registry();
const OpEntry* find_op(uint32_t op);

// One declaration pair per op file.
fathom_op_support support_embedding(const fathom_op_desc&);
std::unique_ptr<Op> make_embedding(const OpBuild&);
fathom_op_support support_rms_norm(const fathom_op_desc&);
std::unique_ptr<Op> make_rms_norm(const OpBuild&);
fathom_op_support support_matmul(const fathom_op_desc&);
std::unique_ptr<Op> make_matmul(const OpBuild&);
fathom_op_support support_binary(const fathom_op_desc&);
std::unique_ptr<Op> make_add(const OpBuild&);
std::unique_ptr<Op> make_silu_mul(const OpBuild&);
fathom_op_support support_rope_yarn(const fathom_op_desc&);
std::unique_ptr<Op> make_rope_yarn(const OpBuild&);
fathom_op_support support_mla_attention(const fathom_op_desc&);
std::unique_ptr<Op> make_mla_attention(const OpBuild&);
fathom_op_support support_moe_route(const fathom_op_desc&);
std::unique_ptr<Op> make_moe_route(const OpBuild&);
fathom_op_support support_moe_experts(const fathom_op_desc&);
std::unique_ptr<Op> make_moe_experts(const OpBuild&);
fathom_op_support support_copy(const fathom_op_desc&);
std::unique_ptr<Op> make_slice(const OpBuild&);
std::unique_ptr<Op> make_concat(const OpBuild&);
std::unique_ptr<Op> make_convert(const OpBuild&);

}  // namespace fathom::cuda
