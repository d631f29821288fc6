// Routed experts: y[t] = Σ_k w[t,k] · down_e(silu(gate_e · x[t]) ⊙ up_e · x[t]), e = experts[t,k].
//
// Only the routed experts run. The (token, k) pairs are grouped by expert; each active expert
// multiplies the rows of its tokens (gathered into one block, so an expert with M_e tokens is
// one M_e-row matmul per matrix, GEMV or oneDNN as Matrix decides), and the results are summed
// per token in k order. Two ways to use the threads:
//  - many active experts (decode: top-k experts with a token or two each): one expert per thread,
//    each running its matmuls single-threaded (oneDNN runs single-threaded inside a parallel
//    region, which is what we want here), no barrier between matrices;
//  - few active experts: one after the other, each matmul split over all threads.
#include <array>
#include <string>
#include <vector>

#include "matmul/matrix.h"
#include "ops/ops.h"
#include "parallel.h"
#include "scratch.h"

namespace fathom::cpu {

namespace {

class MoeExperts final : public sdk::PreparedNode {
 public:
  MoeExperts(CpuContext& ctx, const sdk::PrepareArgs& args) : ctx_(ctx) {
    a_ = sdk::KernelArgs{{}, {}, args.op.attrs, args.op.attrs_size}.attrs_as<fathom_moe_experts_attrs>();
    // Where each expert's gate, up and down (and their scales) sit among the inputs.
    size_t i = 3;
    where_.resize(static_cast<size_t>(a_.n_experts));
    for (auto& e : where_) {
      for (auto& m : e) {
        const bool scaled = args.in[i]->desc.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
        m = {i, scaled ? static_cast<int64_t>(i + 1) : -1};
        i += scaled ? 2 : 1;
      }
    }
    bool constant = true;
    for (size_t j = 3; j < args.in.size(); ++j) constant = constant && args.is_constant(j);
    if (constant) {
      matrices_.resize(where_.size());
      for (size_t e = 0; e < where_.size(); ++e) {
        for (int m = 0; m < 3; ++m) matrices_[e][static_cast<size_t>(m)] = matrix_at(args.in, e, m);
      }
    }
  }

  void run(const sdk::KernelArgs& args) override {
    const int64_t tokens = args.in[0]->dim(0), k = a_.top_k, dim = a_.hidden, inter = a_.intermediate;
    const int32_t* ids = args.in[1]->as<const int32_t>();
    const float* route_w = args.in[2]->as<const float>();
    const float* x = args.in[0]->as<const float>();
    float* y = args.out[0]->as<float>();
    if (tokens == 0) return;

    // Group the routed rows by expert: rows of expert e are [offset[e], offset[e + 1]).
    std::vector<int64_t> offset(static_cast<size_t>(a_.n_experts) + 1, 0);
    for (int64_t p = 0; p < tokens * k; ++p) {
      if (ids[p] < 0 || ids[p] >= a_.n_experts)
        sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "moe_experts: expert id " + std::to_string(ids[p]) + " outside 0.." +
                                                  std::to_string(a_.n_experts - 1));
      ++offset[static_cast<size_t>(ids[p]) + 1];
    }
    std::vector<int64_t> active;
    for (int64_t e = 0; e < a_.n_experts; ++e) {
      if (offset[static_cast<size_t>(e) + 1] > 0) active.push_back(e);
      offset[static_cast<size_t>(e) + 1] += offset[static_cast<size_t>(e)];
    }
    const int64_t rows = tokens * k;
    std::vector<int64_t> row_of(static_cast<size_t>(rows));  // pair (t, k) → its row in expert order
    {
      std::vector<int64_t> next(offset.begin(), offset.end() - 1);
      for (int64_t p = 0; p < rows; ++p) row_of[static_cast<size_t>(p)] = next[static_cast<size_t>(ids[p])]++;
    }

    // One buffer: gathered x [rows, D], gate and up [rows, I] each, expert outputs [rows, D].
    float* xe = scratch<float>(Scratch::experts, static_cast<size_t>(rows * (2 * dim + 2 * inter)));
    float* ge = xe + rows * dim;
    float* ue = ge + rows * inter;
    float* oe = ue + rows * inter;
    for (int64_t p = 0; p < rows; ++p) {
      const float* src = x + (p / k) * dim;
      std::copy(src, src + dim, xe + row_of[static_cast<size_t>(p)] * dim);
    }

    auto run_expert = [&](int64_t e, int threads) {
      const int64_t r0 = offset[static_cast<size_t>(e)], m = offset[static_cast<size_t>(e) + 1] - r0;
      const std::array<std::shared_ptr<const Matrix>, 3> mats = matrices_for(args.in, e);
      mats[0]->multiply(ctx_, xe + r0 * dim, m, ge + r0 * inter, threads);
      mats[1]->multiply(ctx_, xe + r0 * dim, m, ue + r0 * inter, threads);
      ctx_.isa->silu_mul(ge + r0 * inter, ue + r0 * inter, ge + r0 * inter, m * inter);
      mats[2]->multiply(ctx_, ge + r0 * inter, m, oe + r0 * dim, threads);
    };
    const int threads = ctx_.threads();
    if (threads > 1 && static_cast<int64_t>(active.size()) >= 2 * threads) {
      parallel_items(static_cast<int64_t>(active.size()), threads, [&](int64_t i) { run_expert(active[static_cast<size_t>(i)], 1); });
    } else {
      for (int64_t e : active) run_expert(e, threads);
    }

    // y[t] = Σ_k w[t,k] · out[row of (t, k)], in k order.
    const int t = threads_for(threads, static_cast<double>(tokens * k * dim), 65536);
    parallel_ranges(tokens, t, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t tok = t0; tok < t1; ++tok) {
        float* out = y + tok * dim;
        std::fill(out, out + dim, 0.0f);
        for (int64_t j = 0; j < k; ++j) {
          const int64_t p = tok * k + j;
          ctx_.isa->axpy(route_w[p], oe + row_of[static_cast<size_t>(p)] * dim, out, dim);
        }
      }
    });
  }

 private:
  std::shared_ptr<const Matrix> matrix_at(std::span<const sdk::HostTensor* const> in, size_t e, int m) {
    const auto [w, s] = where_[e][static_cast<size_t>(m)];
    return prepared_matrix(ctx_, *in[w], s >= 0 ? in[static_cast<size_t>(s)] : nullptr);
  }

  std::array<std::shared_ptr<const Matrix>, 3> matrices_for(std::span<sdk::HostTensor* const> in, int64_t e) const {
    if (!matrices_.empty()) return matrices_[static_cast<size_t>(e)];
    std::array<std::shared_ptr<const Matrix>, 3> out;  // weights bound at run: wrap them as they are
    for (int m = 0; m < 3; ++m) {
      const auto [w, s] = where_[static_cast<size_t>(e)][static_cast<size_t>(m)];
      out[static_cast<size_t>(m)] = std::make_shared<const Matrix>(
          ctx_, weight_view(*in[w], s >= 0 ? in[static_cast<size_t>(s)] : nullptr), /*prepare=*/false);
    }
    return out;
  }

  CpuContext& ctx_;
  fathom_moe_experts_attrs a_{};
  std::vector<std::array<std::pair<size_t, int64_t>, 3>> where_;
  std::vector<std::array<std::shared_ptr<const Matrix>, 3>> matrices_;
};

}  // namespace

Prepared prepare_moe_experts(CpuContext& ctx, const sdk::PrepareArgs& args) { return std::make_unique<MoeExperts>(ctx, args); }

}  // namespace fathom::cpu
