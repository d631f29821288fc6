#include "fathom/core/ops.h"

#include <array>
#include <utility>

#include "fathom/plugin_api.h"

namespace fathom {

namespace {
constexpr std::array<std::pair<uint32_t, std::string_view>, 12> kOpNames = {{
    {FATHOM_OP_EMBEDDING, "embedding"},
    {FATHOM_OP_RMS_NORM, "rms_norm"},
    {FATHOM_OP_MATMUL, "matmul"},
    {FATHOM_OP_ADD, "add"},
    {FATHOM_OP_SILU_MUL, "silu_mul"},
    {FATHOM_OP_ROPE_YARN, "rope_yarn"},
    {FATHOM_OP_MLA_ATTENTION, "mla_attention"},
    {FATHOM_OP_MOE_ROUTE, "moe_route"},
    {FATHOM_OP_MOE_EXPERTS, "moe_experts"},
    {FATHOM_OP_SLICE, "slice"},
    {FATHOM_OP_CONCAT, "concat"},
    {FATHOM_OP_CONVERT, "convert"},
}};
static_assert(kOpNames.size() == FATHOM_OP_COUNT_ - 1, "every op id needs a name");
}  // namespace

std::string_view op_name(uint32_t op) {
  for (const auto& [id, name] : kOpNames) {
    if (id == op) return name;
  }
  return "unknown";
}

std::optional<uint32_t> op_from_name(std::string_view name) {
  for (const auto& [id, n] : kOpNames) {
    if (n == name) return id;
  }
  return std::nullopt;
}

const std::vector<uint32_t>& all_ops() {
  static const std::vector<uint32_t> ops = [] {
    std::vector<uint32_t> v;
    for (const auto& entry : kOpNames) v.push_back(entry.first);
    return v;
  }();
  return ops;
}

}  // namespace fathom
