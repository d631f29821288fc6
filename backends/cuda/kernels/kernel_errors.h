// Codes the kernels report through an executable's error word (the first one wins); the host
// turns them into statuses after the run. Plain C++: included by host code too.
#pragma once

namespace fathom::gpu {

enum KernelError : int {
  kErrNone = 0,
  kErrTokenId = 1,     // embedding: id outside the vocabulary
  kErrCacheIndex = 2,  // mla_attention: slot or position outside the cache
  kErrExpertId = 3,    // moe_experts: expert id outside 0..E-1
};

}  // namespace fathom::gpu
