// The base of a fused op that pays only up to some number of rows (runtime/fusion.h): it keeps
// its nodes' own ops and runs them, in order, for runs with more rows.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "ops/op.h"
#include "ops/util.h"

namespace fathom::cuda {

class FusedWithFallback : public Op {
 public:
  // `x`: the run's activations, whose rows decide; `max_fused_rows`: the most rows fused.
  FusedWithFallback(std::vector<std::unique_ptr<Op>> parts, const fathom_tensor_desc& x, int64_t max_fused_rows)
      : parts_(std::move(parts)), x_desc_(x), max_fused_rows_(max_fused_rows) {
    for (const auto& op : parts_) workspace_ = std::max(workspace_, op->workspace_bytes());
  }

  size_t workspace_bytes() const final { return std::max(workspace_, fused_workspace_); }

  void launch(const OpRun& r) final {
    const int64_t m = rows(x_desc_, r.tokens);
    if (m == 0) return;
    if (m > max_fused_rows_) {
      for (auto& op : parts_) op->launch(r);
      return;
    }
    launch_fused(r, m);
  }

 protected:
  virtual void launch_fused(const OpRun& r, int64_t m) = 0;
  int64_t max_fused_rows() const { return max_fused_rows_; }
  size_t fused_workspace_ = 0;  // what launch_fused takes, set by the derived op

 private:
  std::vector<std::unique_ptr<Op>> parts_;
  fathom_tensor_desc x_desc_;
  int64_t max_fused_rows_;
  size_t workspace_ = 0;
};

}  // namespace fathom::cuda
