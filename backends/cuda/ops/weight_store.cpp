// The CUDA build keeps weights as given: the kernels decode every float format (FP8 with or
// without block scales) and cuBLASLt reads FP8 natively.
#include "ops/weight_store.h"

#include "ops/util.h"

namespace fathom::cuda {

fathom_op_support weight_support(const fathom_tensor_desc&) { return preferred(); }

uint32_t stored_dtype(uint32_t dtype) { return dtype; }

StoredMatrix store_matrix(const OpBuild& b, size_t i) { return {matrix_ref(b, i), b.desc.inputs[i].dtype}; }

}  // namespace fathom::cuda
