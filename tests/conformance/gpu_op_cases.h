// Conformance cases sized for the GPU backends' paths (gpu_op_cases.cpp); the suite runs them
// on every backend, with the cases of op_cases.h.
#pragma once

#include <cstdint>
#include <vector>

#include "op_cases.h"

namespace fathom::test {

std::vector<OpCase> make_gpu_path_cases(uint64_t seed);

}  // namespace fathom::test
