// Reference kernels: one function per op, plain loops, f32 arithmetic with f64 accumulation
// where it costs nothing. Each file states the shapes it expects (checked beforehand by
// sdk::check_signature) and follows the formula in docs/reference or the PyTorch op it mirrors.
#pragma once

#include "fathom/sdk/host_backend.hpp"

namespace fathom::reference {

using sdk::KernelArgs;

void embedding(const KernelArgs& args);
void rms_norm(const KernelArgs& args);
void matmul(const KernelArgs& args);
void add(const KernelArgs& args);
void silu_mul(const KernelArgs& args);
void slice(const KernelArgs& args);
void concat(const KernelArgs& args);
void convert(const KernelArgs& args);
void rope_yarn(const KernelArgs& args);
void mla_attention(const KernelArgs& args);
void moe_route(const KernelArgs& args);
void moe_experts(const KernelArgs& args);

// Element i of a float tensor of any float dtype, as f32 (exact for every dtype).
float load_f32(const sdk::HostTensor& t, int64_t i);
// Stores v into element i, rounding to the tensor's dtype.
void store_f32(const sdk::HostTensor& t, int64_t i, float v);

}  // namespace fathom::reference
