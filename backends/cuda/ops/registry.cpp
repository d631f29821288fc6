#include "ops/registry.h"

namespace fathom::cuda {

namespace {

const OpEntry kOps[] = {
    {FATHOM_OP_EMBEDDING, support_embedding, make_embedding},
    {FATHOM_OP_RMS_NORM, support_rms_norm, make_rms_norm},
    {FATHOM_OP_MATMUL, support_matmul, make_matmul},
    {FATHOM_OP_ADD, support_binary, make_add},
    {FATHOM_OP_SILU_MUL, support_binary, make_silu_mul},
    {FATHOM_OP_ROPE_YARN, support_rope_yarn, make_rope_yarn},
    {FATHOM_OP_MLA_ATTENTION, support_mla_attention, make_mla_attention},
    {FATHOM_OP_MOE_ROUTE, support_moe_route, make_moe_route},
    {FATHOM_OP_MOE_EXPERTS, support_moe_experts, make_moe_experts},
    {FATHOM_OP_SLICE, support_copy, make_slice},
    {FATHOM_OP_CONCAT, support_copy, make_concat},
    {FATHOM_OP_CONVERT, support_copy, make_convert},
};

}  // namespace

std::span<const OpEntry> op_registry() { return kOps; }

const OpEntry* find_op(uint32_t op) {
  for (const OpEntry& e : kOps) {
    if (e.op == op) return &e;
  }
  return nullptr;
}

}  // namespace fathom::cuda
