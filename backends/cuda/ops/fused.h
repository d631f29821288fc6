// Ops that compute a run of nodes at once (see runtime/fusion.h). Each is given the ops of its
// nodes, built as usual, and runs them in order where fusing does not apply.
#pragma once

#include <memory>
#include <vector>

#include "ops/op.h"

namespace fathom::cuda {

// FusionKind::swiglu_matmul: the builds of the gate matmul, the up matmul and the silu_mul.
std::unique_ptr<Op> make_swiglu_matmul(const OpBuild& gate, const OpBuild& up, const OpBuild& act,
                                       std::vector<std::unique_ptr<Op>> parts);

}  // namespace fathom::cuda
