#include "runtime/executable.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "fathom/sdk/op_signature.hpp"
#include "fathom/sdk/tensor.hpp"
#include "kernels/kernel_errors.h"
#include "ops/fused.h"
#include "ops/registry.h"
#include "runtime/arena.h"
#include "runtime/check.h"
#include "runtime/fusion.h"

namespace fathom::cuda {

namespace {

constexpr size_t kMaxGraphs = 32;

const char* role_name(uint32_t role) {
  switch (role) {
    case FATHOM_ROLE_INPUT: return "input";
    case FATHOM_ROLE_OUTPUT: return "output";
    case FATHOM_ROLE_WEIGHT: return "weight";
    case FATHOM_ROLE_STATE: return "state";
    case FATHOM_ROLE_INTERNAL: return "internal";
    default: return "?";
  }
}

// A node's op descriptor and the storage it points into (vectors keep their data when moved).
struct NodeBuild {
  NodeBuild(const fathom_segment_node& node, uint32_t index, const std::vector<TensorInfo>& tensors)
      : name(node.name ? node.name : "node #" + std::to_string(index)), ins(node.inputs, node.inputs + node.n_inputs),
        outs(node.outputs, node.outputs + node.n_outputs) {
    for (uint32_t i : ins) in_descs.push_back(tensors[i].desc);
    for (uint32_t o : outs) out_descs.push_back(tensors[o].desc);
    desc = {sizeof(fathom_op_desc), node.op, node.n_inputs, node.n_outputs, in_descs.data(), out_descs.data(),
            node.attrs, node.attrs_size, 0};
  }
  std::string name;
  std::vector<uint32_t> ins, outs;
  std::vector<fathom_tensor_desc> in_descs, out_descs;
  fathom_op_desc desc{};
};

}  // namespace

PersistentMemory::~PersistentMemory() {
  for (void* p : blocks_) cudaFree(p);
}

void* PersistentMemory::allocate(size_t bytes) {
  void* p = nullptr;
  FATHOM_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(bytes, 1)));
  blocks_.push_back(p);
  return p;
}

void* PersistentMemory::upload(const void* src, size_t bytes) {
  void* p = allocate(bytes);
  if (bytes) FATHOM_CUDA_CHECK(cudaMemcpy(p, src, bytes, cudaMemcpyHostToDevice));
  return p;
}

Executable::Executable(Device& device, const Options& options, const fathom_segment& segment,
                       std::span<const fathom_binding> bindings, ViewResolver resolve)
    : device_(device), options_(options), resolve_(resolve), max_tokens_(segment.max_tokens) {
  if (segment.max_tokens < 0) sdk::fail_invalid("compile: negative max_tokens");
  tensors_.resize(segment.n_tensors);
  for (uint32_t i = 0; i < segment.n_tensors; ++i) {
    const fathom_segment_tensor& t = segment.tensors[i];
    tensors_[i].desc = t.desc;
    tensors_[i].role = t.role;
    tensors_[i].name = t.name ? t.name : "#" + std::to_string(i);
    if (t.role == FATHOM_ROLE_INPUT || t.role == FATHOM_ROLE_OUTPUT) io_.push_back(i);
  }

  // Weights and state: bound now.
  for (const fathom_binding& b : bindings) {
    if (b.tensor >= tensors_.size()) sdk::fail_invalid("compile binds tensor #" + std::to_string(b.tensor) + ", which does not exist");
    TensorInfo& t = tensors_[b.tensor];
    if (t.role != FATHOM_ROLE_WEIGHT && t.role != FATHOM_ROLE_STATE)
      sdk::fail_invalid("compile binds tensor '" + t.name + "', which is a " + role_name(t.role) + " tensor");
    const uint64_t need = sdk::byte_size(t.desc, 0);
    if (b.view.size < need)
      sdk::fail_invalid("tensor '" + t.name + "' needs " + std::to_string(need) + " bytes, its view has " + std::to_string(b.view.size));
    t.ptr = resolve_(b.view, device_.index());
  }
  for (const TensorInfo& t : tensors_) {
    if ((t.role == FATHOM_ROLE_WEIGHT || t.role == FATHOM_ROLE_STATE) && !t.ptr)
      sdk::fail_invalid("compile: " + std::string(role_name(t.role)) + " tensor '" + t.name + "' is not bound");
  }

  // Internal tensors: live from their producer to their last reader.
  std::vector<int64_t> first(tensors_.size(), -1), last(tensors_.size(), -1);
  for (uint32_t n = 0; n < segment.n_nodes; ++n) {
    const fathom_segment_node& node = segment.nodes[n];
    for (uint32_t i = 0; i < node.n_inputs; ++i) {
      if (node.inputs[i] >= tensors_.size()) sdk::fail_invalid("node reads a tensor that does not exist");
      last[node.inputs[i]] = n;
    }
    for (uint32_t o = 0; o < node.n_outputs; ++o) {
      if (node.outputs[o] >= tensors_.size()) sdk::fail_invalid("node writes a tensor that does not exist");
      if (first[node.outputs[o]] < 0) first[node.outputs[o]] = n;
      last[node.outputs[o]] = std::max<int64_t>(last[node.outputs[o]], n);
    }
  }
  // A fused op runs in place of its run's last node: what the run reads must live until then.
  const std::vector<Fusion> fusions = find_fusions(segment, tensors_);
  for (const Fusion& f : fusions) {
    for (uint32_t n = f.first; n <= f.last; ++n) {
      for (uint32_t i = 0; i < segment.nodes[n].n_inputs; ++i) {
        last[segment.nodes[n].inputs[i]] = std::max<int64_t>(last[segment.nodes[n].inputs[i]], f.last);
      }
    }
  }
  std::vector<ArenaRequest> requests;
  std::vector<uint32_t> internal;
  const int64_t rows = std::max<int64_t>(max_tokens_, 1);
  for (uint32_t i = 0; i < tensors_.size(); ++i) {
    if (tensors_[i].role != FATHOM_ROLE_INTERNAL) continue;
    if (first[i] < 0) sdk::fail_invalid("internal tensor '" + tensors_[i].name + "' has no producer in the segment");
    requests.push_back({sdk::byte_size(tensors_[i].desc, rows), first[i], last[i]});
    internal.push_back(i);
  }
  const ArenaPlan plan = plan_arena(requests);
  if (plan.total) arena_ = static_cast<std::byte*>(memory_.allocate(plan.total));
  for (size_t j = 0; j < internal.size(); ++j) tensors_[internal[j]].ptr = arena_ + plan.offsets[j];

  // Ops: one per node, or one per fused run (built from its nodes' ops).
  std::vector<NodeBuild> nodes;
  nodes.reserve(segment.n_nodes);
  for (uint32_t n = 0; n < segment.n_nodes; ++n) nodes.emplace_back(segment.nodes[n], n, tensors_);
  auto op_build = [&](const NodeBuild& node) {
    return OpBuild{device_, options_, node.desc, node.ins, node.outs, tensors_, max_tokens_, memory_, node.name};
  };
  // Every node is checked, whether it gets an op of its own or is part of a fused run.
  auto checked_entry = [&](const NodeBuild& node) -> const OpEntry& {
    const OpEntry* entry = find_op(node.desc.op);
    if (!entry) sdk::fail_unsupported("node '" + node.name + "': op " + std::to_string(node.desc.op) + " is not implemented by " FATHOM_GPU_BACKEND);
    if (const char* why = sdk::check_signature(node.desc)) sdk::fail_unsupported("node '" + node.name + "': " + why);
    const fathom_op_support s = entry->support(node.desc);
    if (s.level == FATHOM_SUPPORT_NO) sdk::fail_unsupported("node '" + node.name + "': " + (s.reason ? s.reason : "not supported"));
    return *entry;
  };
  auto build_op = [&](const NodeBuild& node) { return checked_entry(node).make(op_build(node)); };
  // A slice node's columns of its source, for the fused ops that read them in place.
  auto slice_of = [](const NodeBuild& slice) {
    return SliceSource{slice.ins[0], attrs_of<fathom_slice_attrs>(slice.desc).begin, slice.in_descs[0].shape[1]};
  };
  size_t next_fusion = 0;
  for (uint32_t n = 0; n < segment.n_nodes; ++n) {
    if (next_fusion < fusions.size() && fusions[next_fusion].first == n) {
      const Fusion& f = fusions[next_fusion++];
      // The ops of the run's nodes, for the fused ops that fall back to them (ops/fallback_op.h).
      std::vector<std::unique_ptr<Op>> parts;
      const bool falls_back = f.kind == FusionKind::swiglu_matmul || f.kind == FusionKind::stacked_matmul;
      for (uint32_t m = f.first; m <= f.last; ++m) {
        if (falls_back) {
          parts.push_back(build_op(nodes[m]));
        } else {
          checked_entry(nodes[m]);
        }
      }
      switch (f.kind) {
        case FusionKind::swiglu_matmul:
          ops_.push_back(make_swiglu_matmul(op_build(nodes[n]), op_build(nodes[n + 1]), op_build(nodes[n + 2]),
                                            std::move(parts)));
          break;
        case FusionKind::stacked_matmul:
          ops_.push_back(make_stacked_matmul(op_build(nodes[n]), op_build(nodes[n + 1]), std::move(parts)));
          break;
        case FusionKind::route_experts:
          ops_.push_back(make_route_experts(op_build(nodes[n]), op_build(nodes[n + 1])));
          break;
        case FusionKind::moe_block: {
          const OpBuild route = op_build(nodes[n]), experts = op_build(nodes[n + 1]), gate = op_build(nodes[n + 2]),
                        up = op_build(nodes[n + 3]), act = op_build(nodes[n + 4]), down = op_build(nodes[n + 5]),
                        inner = op_build(nodes[n + 6]), add = op_build(nodes[n + 7]), norm = op_build(nodes[n + 8]);
          std::vector<std::unique_ptr<Op>> swiglu_parts;
          for (uint32_t m = n + 2; m <= n + 4; ++m) swiglu_parts.push_back(build_op(nodes[m]));
          std::vector<std::unique_ptr<Op>> runs;  // the runs after route_experts, as they would be alone
          runs.push_back(make_swiglu_matmul(gate, up, act, std::move(swiglu_parts)));
          runs.push_back(build_op(nodes[n + 5]));
          runs.push_back(make_add_add_rms_norm(inner, add, norm));
          ops_.push_back(make_moe_block(MoeBlockBuilds{route, experts, SharedExpertBuilds{gate, up, down}, inner, add, norm},
                                        std::move(runs)));
          break;
        }
        case FusionKind::matmul_add_rms_norm: {
          const OpBuild add = op_build(nodes[n + 1]), norm = op_build(nodes[n + 2]);
          std::vector<std::unique_ptr<Op>> runs;  // the matmul's op and the add_rms_norm run, as they would be alone
          runs.push_back(build_op(nodes[n]));
          runs.push_back(make_add_rms_norm(add, norm));
          ops_.push_back(make_matmul_add_rms_norm(op_build(nodes[n]), add, norm, std::move(runs)));
          break;
        }
        case FusionKind::add_rms_norm:
          ops_.push_back(make_add_rms_norm(op_build(nodes[n]), op_build(nodes[n + 1])));
          break;
        case FusionKind::add_add_rms_norm:
          ops_.push_back(make_add_add_rms_norm(op_build(nodes[n]), op_build(nodes[n + 1]), op_build(nodes[n + 2])));
          break;
        case FusionKind::mla_prologue: {
          const OpBuild q_rope = op_build(nodes[n]), norm = op_build(nodes[n + 2]), k_rope = op_build(nodes[n + 4]);
          ops_.push_back(make_mla_with_prologue(
              op_build(nodes[n + 5]), MlaPrologueBuilds{q_rope, norm, k_rope, slice_of(nodes[n + 1]), slice_of(nodes[n + 3])}));
          break;
        }
        case FusionKind::sliced_rms_norm:
        case FusionKind::sliced_rope: {
          const SliceSource source = slice_of(nodes[n]);
          ops_.push_back(f.kind == FusionKind::sliced_rope ? make_sliced_rope(op_build(nodes[n + 1]), source)
                                                           : make_sliced_rms_norm(op_build(nodes[n + 1]), source));
          break;
        }
      }
      n = f.last;
    } else {
      ops_.push_back(build_op(nodes[n]));
    }
    op_node_.push_back(n);
    workspace_bytes_ = std::max(workspace_bytes_, ops_.back()->workspace_bytes());
  }
  if (workspace_bytes_) workspace_ = static_cast<std::byte*>(memory_.allocate(workspace_bytes_));
  error_ = static_cast<int*>(memory_.allocate(sizeof(int)));
  FATHOM_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&error_host_), sizeof(int)));
  if (options_.profile_nodes) {
    node_profile_.assign(segment.n_nodes, fathom_node_profile{0, 0});
    op_events_.resize(ops_.size() + 1, nullptr);
    for (cudaEvent_t& e : op_events_) FATHOM_CUDA_CHECK(cudaEventCreate(&e));
  }
}

Executable::~Executable() {
  cudaSetDevice(device_.index());
  cudaStreamSynchronize(device_.stream());
  drop_graphs();
  for (cudaEvent_t e : op_events_) {
    if (e) cudaEventDestroy(e);
  }
  if (error_host_) cudaFreeHost(error_host_);
}

void Executable::drop_graphs() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
  seen_.clear();
}

void Executable::launch_all(int64_t n_tokens) {
  const bool profiling = options_.profile_nodes;
  const gpu::ProgrammaticLaunchScope programmatic(options_.programmatic_launch && device_.programmatic_launch_ok() && !profiling);
  FATHOM_CUDA_CHECK(cudaMemsetAsync(error_, 0, sizeof(int), device_.stream()));
  const OpRun run{device_, device_.stream(), n_tokens, tensors_, workspace_, workspace_bytes_, error_};
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (profiling) FATHOM_CUDA_CHECK(cudaEventRecord(op_events_[i], device_.stream()));
    ops_[i]->launch(run);
  }
  if (profiling) FATHOM_CUDA_CHECK(cudaEventRecord(op_events_.back(), device_.stream()));
}

void Executable::book_op_times() {
  for (size_t i = 0; i < ops_.size(); ++i) {
    float ms = 0.f;
    FATHOM_CUDA_CHECK(cudaEventElapsedTime(&ms, op_events_[i], op_events_[i + 1]));
    fathom_node_profile& p = node_profile_[op_node_[i]];
    p.calls += 1;
    p.total_ns += static_cast<uint64_t>(static_cast<double>(ms) * 1e6);
  }
}

void Executable::profile(std::span<fathom_node_profile> out) const {
  if (!options_.profile_nodes)
    sdk::fail_unsupported("per-node times need [backend." FATHOM_GPU_BACKEND "] profile_nodes = true");
  if (out.size() != node_profile_.size())
    sdk::fail_invalid("executable_profile: the segment has " + std::to_string(node_profile_.size()) + " nodes");
  std::copy(node_profile_.begin(), node_profile_.end(), out.begin());
}

void Executable::run_graph(const GraphKey& key, int64_t n_tokens) {
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    if (graphs_.size() >= kMaxGraphs) drop_graphs();
    cudaGraph_t graph = nullptr;
    FATHOM_CUDA_CHECK(cudaStreamBeginCapture(device_.stream(), cudaStreamCaptureModeThreadLocal));
    try {
      launch_all(n_tokens);
    } catch (...) {
      cudaStreamEndCapture(device_.stream(), &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    FATHOM_CUDA_CHECK(cudaStreamEndCapture(device_.stream(), &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
      // Not fatal: this executable runs eagerly from now on.
      cudaGetLastError();
      graphs_ok_ = false;
      launch_all(n_tokens);
      return;
    }
    it = graphs_.emplace(key, exec).first;
  }
  FATHOM_CUDA_CHECK(cudaGraphLaunch(it->second, device_.stream()));
}

void Executable::check_kernel_errors() {
  FATHOM_CUDA_CHECK(cudaMemcpyAsync(error_host_, error_, sizeof(int), cudaMemcpyDeviceToHost, device_.stream()));
  FATHOM_CUDA_CHECK(cudaStreamSynchronize(device_.stream()));
  switch (*error_host_) {
    case gpu::kErrNone: return;
    case gpu::kErrTokenId: sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "embedding: a token id is outside the vocabulary");
    case gpu::kErrCacheIndex:
      sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "mla_attention: a slot or position is outside the cache");
    case gpu::kErrExpertId: sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "moe_experts: an expert id is outside 0..n_experts-1");
    default: sdk::fail(FATHOM_STATUS_INTERNAL, "a kernel reported error code " + std::to_string(*error_host_));
  }
}

void Executable::run(std::span<const fathom_binding> bindings, int64_t n_tokens) {
  if (n_tokens < 0 || n_tokens > max_tokens_)
    sdk::fail(FATHOM_STATUS_OUT_OF_RANGE,
              "run: " + std::to_string(n_tokens) + " tokens, but compiled for at most " + std::to_string(max_tokens_));
  device_.activate();
  for (uint32_t i : io_) tensors_[i].ptr = nullptr;
  for (const fathom_binding& b : bindings) {
    if (b.tensor >= tensors_.size()) sdk::fail_invalid("run binds tensor #" + std::to_string(b.tensor) + ", which does not exist");
    TensorInfo& t = tensors_[b.tensor];
    if (t.role != FATHOM_ROLE_INPUT && t.role != FATHOM_ROLE_OUTPUT)
      sdk::fail_invalid("run binds tensor '" + t.name + "', which is a " + role_name(t.role) + " tensor");
    const uint64_t need = sdk::byte_size(t.desc, n_tokens);
    if (b.view.size < need)
      sdk::fail_invalid("tensor '" + t.name + "' needs " + std::to_string(need) + " bytes, its view has " + std::to_string(b.view.size));
    t.ptr = resolve_(b.view, device_.index());
  }
  GraphKey key{n_tokens, {}};
  for (uint32_t i : io_) {
    const TensorInfo& t = tensors_[i];
    if (!t.ptr && sdk::element_count(t.desc, n_tokens) > 0) sdk::fail_invalid("run: tensor '" + t.name + "' is not bound");
    key.second.push_back(t.ptr);
  }

  const bool graph = options_.cuda_graphs && !options_.profile_nodes && graphs_ok_ && n_tokens > 0 &&
                     n_tokens <= options_.graph_max_tokens;
  if (seen_.size() > 4 * kMaxGraphs) seen_.clear();
  if (graph && (graphs_.count(key) || !seen_.insert(key).second)) {
    run_graph(key, n_tokens);
  } else {
    launch_all(n_tokens);
  }
  check_kernel_errors();  // synchronises: the events have completed
  if (options_.profile_nodes) book_op_times();
}

}  // namespace fathom::cuda
