// Names of the frozen op ids of the plugin ABI, as used in TOML ([placement.ops]) and reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace fathom {

// "matmul", "rms_norm", ...; "op#<id>" is never returned: unknown ids give "unknown".
std::string_view op_name(uint32_t op);
std::optional<uint32_t> op_from_name(std::string_view name);
// Every op id this build of the host knows, ascending.
const std::vector<uint32_t>& all_ops();

}  // namespace fathom
