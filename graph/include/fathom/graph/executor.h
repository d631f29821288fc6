// Runs a placed graph: per-backend segments with explicit copies between them.
//
// Construction compiles every segment (a maximal run of consecutive nodes on one backend) with
// its weights and state bound, and allocates the buffers that carry activations across
// segments. run() uploads the inputs, runs the segments in order (staging tensors that cross
// backends through host memory, or a device-side copy within one backend), and downloads the
// outputs.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fathom/core/backend.h"
#include "fathom/graph/graph.h"
#include "fathom/graph/placement.h"

namespace fathom::graph {

// Weights as backend buffers: host backends wrap the mapped checkpoint (no copy), others get one
// upload per tensor. Shared by every executor of a model, so weights are placed once.
class WeightStore {
 public:
  fathom_view view(const model::TensorView& tensor, const std::shared_ptr<BackendInstance>& backend);

 private:
  std::map<std::pair<const void*, const BackendInstance*>, Buffer> buffers_;
};

// Persistent state tensors (KV caches) by name, shared by the executors of one model so that the
// prefill and decode graphs see the same cache.
class StatePool {
 public:
  // The state tensor `name`, allocated (and zeroed) on `backend` at first use. Before allocating,
  // the states on a backend are held to the memory its device reported free when the first of
  // them was allocated (or its total, where it reports no free figure): a cache that cannot fit
  // is refused with resource_exhausted and what to lower, instead of the process being killed
  // while zeroing it.
  fathom_view view(const std::string& name, const std::shared_ptr<BackendInstance>& backend, uint64_t bytes);
  // Copies the first `rows` positions of slot `from` to slot `to` in every state tensor, each laid
  // out [n_slots, positions, row] (the DeepSeek graph's caches are).
  void copy_slot_prefix(int64_t n_slots, int64_t positions, int64_t from, int64_t to, int64_t rows);

 private:
  void reserve(const std::string& name, const BackendInstance& backend, uint64_t bytes);

  std::map<std::string, Buffer> buffers_;
  struct Budget {
    uint64_t limit = 0;  // 0: the device reports no memory size; nothing is checked
    uint64_t used = 0;
  };
  std::map<const BackendInstance*, Budget> budgets_;
};

struct HostTensorIn {
  const void* data;
  size_t bytes;
};

class Executor {
 public:
  // `on_segment` (optional) is told after each segment is compiled: (done, total).
  Executor(const Graph& graph, Placement placement, WeightStore& weights, StatePool& states, int64_t max_tokens,
           const std::function<void(size_t, size_t)>& on_segment = {});

  // Runs for n_tokens tokens. `inputs` by graph-input name; fills `outputs` by output name
  // (bytes of the output's dtype, n_tokens rows).
  void run(const std::map<std::string, HostTensorIn>& inputs, int64_t n_tokens,
           std::map<std::string, std::vector<std::byte>>& outputs);

  int64_t max_tokens() const { return max_tokens_; }
  const Placement& placement() const { return placement_; }
  size_t segment_count() const { return segments_.size(); }
  size_t copies_per_run() const;

  struct OpTime {
    std::string op;
    std::string backend;
    uint64_t calls = 0;
    double total_ms = 0;
  };
  // Time per (op kind, backend) since construction, from the backends' node profiles, plus the
  // cross-backend copies as op "copy".
  std::vector<OpTime> op_times() const;

  struct NodeTime {
    std::string node;  // the node's name ("layers.3.self_attn.q_proj")
    std::string op;
    std::string backend;
    uint64_t calls = 0;
    double total_ms = 0;
    uint64_t weight_bytes = 0;  // bytes of the checkpoint tensors among its inputs
  };
  // Time per node since construction, from the backends' node profiles.
  std::vector<NodeTime> node_times() const;

  // `times` summed per (op, backend), in that order.
  static std::vector<OpTime> sum_by_op(const std::vector<OpTime>& times);

 private:
  struct Copy {
    TensorId tensor;
    size_t from_backend, to_backend;
  };
  struct Segment {
    size_t backend;
    std::vector<NodeId> nodes;
    std::vector<TensorId> local_to_graph;  // the segment's tensor table
    std::vector<Copy> copies;               // done before the segment runs
    std::vector<std::pair<uint32_t, TensorId>> io;  // INPUT/OUTPUT tensors: bound at each run
    Executable executable;
  };

  void build_segments(const std::function<void(size_t, size_t)>& on_segment);
  uint64_t bytes_for(TensorId t, int64_t n_tokens) const;
  // The buffer holding `tensor` on backend b (allocated on first use, sized for max_tokens).
  Buffer& transit_buffer(TensorId tensor, size_t backend);

  const Graph& graph_;
  Placement placement_;
  WeightStore& weights_;
  StatePool& states_;
  int64_t max_tokens_;
  std::vector<Segment> segments_;
  std::vector<size_t> home_;  // per tensor: backend of its producer (or of its first consumer for inputs)
  std::map<std::pair<TensorId, size_t>, Buffer> transit_;
  uint64_t copy_calls_ = 0;
  double copy_ms_ = 0;
};

}  // namespace fathom::graph
