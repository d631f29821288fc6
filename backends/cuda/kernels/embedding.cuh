// out[t, :] = table[ids[t], :]; an id outside the table reports kErrTokenId and leaves its row.
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct EmbeddingArgs {
  const int32_t* ids;
  const void* table;
  void* out;
  uint32_t table_dtype, out_dtype;
  int64_t tokens, vocab, width;
  int* error;  // the executable's error word
};

void launch_embedding(const EmbeddingArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
