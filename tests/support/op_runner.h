// Runs one op on one backend through the plugin ABI, the way the runtime would: buffers owned
// by the backend, a one-node segment, compile (weights bound) then run (inputs and outputs).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fathom/core/backend.h"
#include "fathom/plugin_api.h"

namespace fathom::test {

struct OpTensor {
  fathom_tensor_desc desc{};
  bool weight = false;         // bound at compile (FATHOM_ROLE_WEIGHT) instead of run
  std::vector<std::byte> data;  // inputs: the values; outputs: filled by run_op
};

struct OpCall {
  uint32_t op = 0;
  std::vector<OpTensor> inputs;
  std::vector<OpTensor> outputs;
  std::vector<std::byte> attrs;

  fathom_op_desc desc(std::vector<fathom_tensor_desc>& in, std::vector<fathom_tensor_desc>& out) const;
};

// Asks the backend whether it supports `call`.
OpSupport query(const std::shared_ptr<BackendInstance>& backend, const OpCall& call);

// Runs `call` on `backend`, writing call.outputs[i].data. Throws fathom::Error on failure.
void run_op(const std::shared_ptr<BackendInstance>& backend, OpCall& call);

// A segment of several nodes over shared tensors, for what a backend does across nodes (fused
// runs). Tensors are indexed by position; `roles[i]` is tensors[i]'s FATHOM_ROLE_*: INPUT and
// WEIGHT tensors carry data, OUTPUT tensors are filled by run_segment, INTERNAL ones are the
// backend's own.
struct SegmentCall {
  struct Node {
    uint32_t op = 0;
    std::vector<uint32_t> inputs, outputs;
    std::vector<std::byte> attrs;
  };
  std::vector<OpTensor> tensors;
  std::vector<uint32_t> roles;
  std::vector<Node> nodes;

  uint32_t add(OpTensor t, uint32_t role);  // returns the tensor's index
};

// Compiles `call` on `backend` (weights bound), runs it `runs` times (a second run of the same
// shape may replay a captured graph) and fills the OUTPUT tensors' data from the last run. Every
// run's outputs start as NaN. With `after_run`, the outputs are filled after every run and
// after_run(r) is called: a fault that a later run's leftovers hide (a first run that leaves an
// output unwritten, a last-block tail that fires only on the counts of two launches) shows in the
// run where it happens.
void run_segment(const std::shared_ptr<BackendInstance>& backend, SegmentCall& call, int runs = 1,
                 const std::function<void(int run)>& after_run = {});

fathom_tensor_desc make_desc(uint32_t dtype, std::vector<int64_t> shape, uint32_t layout = FATHOM_LAYOUT_DENSE);
size_t desc_bytes(const fathom_tensor_desc& d);

}  // namespace fathom::test
