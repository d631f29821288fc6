// A compiled segment: its tensors, one Op per node, the memory they use, and the CUDA graphs
// that replay its runs.
//
// Memory: weights and state are the host's buffers, bound at compile; internal tensors share
// one allocation sized for max_tokens (see arena.h); all ops share one workspace, since they
// run one after another on the device's stream.
//
// CUDA graphs: a run of at most graph_max_tokens tokens is captured the second time the same
// (token count, input/output addresses) comes round — decode steps, whose buffers the executor
// reuses — and replayed from then on; the first time runs eagerly, which also lets cuBLASLt
// plans and lazily loaded kernels settle outside any capture.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "ops/op.h"

namespace fathom::cuda {

// Turns a view of one of the backend's buffers into a device address (checking its bounds).
using ViewResolver = std::byte* (*)(const fathom_view& view, int device);

class Executable {
 public:
  Executable(Device& device, const Options& options, const fathom_segment& segment,
             std::span<const fathom_binding> bindings, ViewResolver resolve);
  ~Executable();
  Executable(const Executable&) = delete;
  Executable& operator=(const Executable&) = delete;

  void run(std::span<const fathom_binding> bindings, int64_t n_tokens);
  int device_index() const { return device_.index(); }
  // Device time per segment node since compile (Options::profile_nodes; unsupported without).
  // A fused run of nodes is one op: its time and calls are booked to the run's last node.
  void profile(std::span<fathom_node_profile> out) const;

 private:
  using GraphKey = std::pair<int64_t, std::vector<void*>>;

  void launch_all(int64_t n_tokens);
  void run_graph(const GraphKey& key, int64_t n_tokens);
  void drop_graphs();
  void check_kernel_errors();
  void book_op_times();

  Device& device_;
  Options options_;
  ViewResolver resolve_;
  int64_t max_tokens_;
  std::vector<TensorInfo> tensors_;
  std::vector<uint32_t> io_;  // INPUT and OUTPUT tensors, in index order
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<uint32_t> op_node_;  // the segment node each op stands for (a fused run's last)
  std::vector<cudaEvent_t> op_events_;            // profile_nodes: before each op, and after the last
  std::vector<fathom_node_profile> node_profile_;  // profile_nodes: per segment node
  PersistentMemory memory_;
  std::byte* arena_ = nullptr;
  std::byte* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  int* error_ = nullptr;       // device
  int* error_host_ = nullptr;  // pinned
  bool graphs_ok_ = true;
  std::set<GraphKey> seen_;
  std::map<GraphKey, cudaGraphExec_t> graphs_;
};

}  // namespace fathom::cuda
