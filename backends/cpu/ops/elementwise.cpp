// add:      out = a + b
// silu_mul: out = silu(gate) ⊙ up   (SwiGLU)
// Split over threads in cache-line-aligned parts once a tensor is large enough to pay for it.
#include "ops/ops.h"
#include "parallel.h"

namespace fathom::cpu {

namespace {

// Below ~64 Ki elements per thread the team's wake-up costs more than the loop.
constexpr double kMinElementsPerThread = 65536;

template <typename Kernel>
Prepared binary(CpuContext& ctx, Kernel kernel) {
  return make_node([&ctx, kernel](const sdk::KernelArgs& a) {
    const float* x = a.in[0]->as<const float>();
    const float* y = a.in[1]->as<const float>();
    float* out = a.out[0]->as<float>();
    const int64_t n = a.out[0]->numel();
    const int t = threads_for(ctx.threads(), static_cast<double>(n), kMinElementsPerThread);
    parallel_ranges(n, t, 16, [&](int64_t b, int64_t e) { kernel(*ctx.isa, x + b, y + b, out + b, e - b); });
  });
}

}  // namespace

Prepared prepare_add(CpuContext& ctx, const sdk::PrepareArgs&) {
  return binary(ctx, [](const IsaKernels& isa, const float* a, const float* b, float* o, int64_t n) { isa.add(a, b, o, n); });
}

Prepared prepare_silu_mul(CpuContext& ctx, const sdk::PrepareArgs&) {
  return binary(ctx,
                [](const IsaKernels& isa, const float* g, const float* u, float* o, int64_t n) { isa.silu_mul(g, u, o, n); });
}

}  // namespace fathom::cpu
