#include "fathom/graph/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"
#include "fathom/core/logging.h"
#include "fathom/core/ops.h"
#include "fathom/sdk/tensor.hpp"

namespace fathom::graph {

namespace {

uint64_t desc_bytes(const fathom_tensor_desc& d, int64_t n_tokens) {
  if (sdk::is_ggml_layout(d.layout)) return sdk::byte_size(d, n_tokens);  // blocks, not elements
  uint64_t n = dtype_size(dtype_from_id(d.dtype));
  for (int i = 0; i < d.rank; ++i) n *= static_cast<uint64_t>(d.shape[i] == FATHOM_DIM_TOKENS ? n_tokens : d.shape[i]);
  return n;
}

}  // namespace

// ---- WeightStore ------------------------------------------------------------------------------

fathom_view WeightStore::view(const model::TensorView& tensor, const std::shared_ptr<BackendInstance>& backend) {
  auto key = std::make_pair(static_cast<const void*>(tensor.data), backend.get());
  auto it = buffers_.find(key);
  if (it == buffers_.end()) {
    Buffer b;
    // Kernels may read elements through typed pointers: only wrap memory aligned for its dtype.
    const bool aligned = reinterpret_cast<uintptr_t>(tensor.data) % dtype_size(tensor.dtype) == 0;
    if (aligned) b = Buffer::import_host(backend, 0, const_cast<std::byte*>(tensor.data), tensor.nbytes);
    if (!b) {
      b = Buffer::allocate(backend, 0, std::max<uint64_t>(tensor.nbytes, 1));
      if (tensor.nbytes) b.upload(0, tensor.data, tensor.nbytes);
    }
    it = buffers_.emplace(key, std::move(b)).first;
  }
  return it->second.view(0, tensor.nbytes);
}

// ---- StatePool --------------------------------------------------------------------------------

void StatePool::reserve(const std::string& name, const BackendInstance& backend, uint64_t bytes) {
  auto [it, first] = budgets_.try_emplace(&backend);
  Budget& budget = it->second;
  if (first) {
    const DeviceInfo device = backend.device_info(0);
    budget.limit = device.free_memory ? device.free_memory : device.total_memory;
  }
  if (budget.limit != 0 && budget.used + bytes > budget.limit) {
    auto gib = [](uint64_t b) {
      char text[32];
      std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
      return std::string(text);
    };
    throw Error(ErrorCode::resource_exhausted,
                "the KV cache does not fit on " + backend.name() + ": with '" + name + "' it needs " +
                    gib(budget.used + bytes) + " so far, and the device had " + gib(budget.limit) +
                    " free; lower runtime.max_batch (sequences at once) or runtime.max_seq_len, or set "
                    "runtime.kv_cache_dtype = \"bf16\"");
  }
  budget.used += bytes;
}

fathom_view StatePool::view(const std::string& name, const std::shared_ptr<BackendInstance>& backend, uint64_t bytes) {
  auto it = buffers_.find(name);
  if (it == buffers_.end()) {
    reserve(name, *backend, bytes);
    Buffer b = Buffer::allocate(backend, 0, bytes);
    // Start from zeros so that nothing uninitialised is ever read, whatever a backend does.
    std::vector<std::byte> zeros(std::min<uint64_t>(bytes, 64ull << 20));
    for (uint64_t off = 0; off < bytes; off += zeros.size()) b.upload(off, zeros.data(), std::min<uint64_t>(zeros.size(), bytes - off));
    it = buffers_.emplace(name, std::move(b)).first;
  }
  if (it->second.backend() != backend) {
    throw invalid_argument("state tensor '" + name + "' lives on backend '" + it->second.backend()->name() +
                           "' but another graph places its user on '" + backend->name() + "'");
  }
  if (it->second.size() < bytes) throw internal_error("state tensor '" + name + "' was created smaller than needed");
  return it->second.view(0, bytes);
}

void StatePool::copy_slot_prefix(int64_t n_slots, int64_t positions, int64_t from, int64_t to, int64_t rows) {
  if (from < 0 || to < 0 || from >= n_slots || to >= n_slots || rows < 0 || rows > positions) {
    throw internal_error("StatePool::copy_slot_prefix: slot or row count out of range");
  }
  if (from == to || rows == 0) return;
  for (auto& [name, buffer] : buffers_) {
    const uint64_t per_slot = buffer.size() / static_cast<uint64_t>(n_slots);
    if (per_slot * static_cast<uint64_t>(n_slots) != buffer.size() || per_slot % static_cast<uint64_t>(positions) != 0) {
      throw internal_error("state tensor '" + name + "' is not [slots, positions, row]");
    }
    const uint64_t row_bytes = per_slot / static_cast<uint64_t>(positions);
    buffer.copy_within(static_cast<uint64_t>(from) * per_slot, static_cast<uint64_t>(to) * per_slot,
                       static_cast<uint64_t>(rows) * row_bytes);
  }
}

// ---- Executor ---------------------------------------------------------------------------------

Executor::Executor(const Graph& graph, Placement placement, WeightStore& weights, StatePool& states, int64_t max_tokens,
                   const std::function<void(size_t, size_t)>& on_segment)
    : graph_(graph), placement_(std::move(placement)), weights_(weights), states_(states), max_tokens_(max_tokens) {
  if (max_tokens < 1) throw invalid_argument("executor: max_tokens must be at least 1");
  build_segments(on_segment);
}

uint64_t Executor::bytes_for(TensorId t, int64_t n_tokens) const { return desc_bytes(graph_.tensor(t).desc, n_tokens); }

Buffer& Executor::transit_buffer(TensorId tensor, size_t backend) {
  auto key = std::make_pair(tensor, backend);
  auto it = transit_.find(key);
  if (it == transit_.end()) {
    Buffer b = Buffer::allocate(placement_.backends[backend], 0, std::max<uint64_t>(bytes_for(tensor, max_tokens_), 1));
    it = transit_.emplace(key, std::move(b)).first;
  }
  return it->second;
}

size_t Executor::copies_per_run() const {
  size_t n = 0;
  for (const auto& s : segments_) n += s.copies.size();
  return n;
}

void Executor::build_segments(const std::function<void(size_t, size_t)>& on_segment) {
  const auto& tensors = graph_.tensors();
  const auto& nodes = graph_.nodes();
  // Which backends consume each tensor, and where each is produced.
  home_.assign(tensors.size(), SIZE_MAX);
  for (NodeId n = 0; n < nodes.size(); ++n) {
    for (TensorId t : nodes[n].outputs) home_[t] = placement_.nodes[n].backend;
  }
  for (NodeId n = 0; n < nodes.size(); ++n) {
    for (TensorId t : nodes[n].inputs) {
      if (tensors[t].kind == TensorKind::input && home_[t] == SIZE_MAX) home_[t] = placement_.nodes[n].backend;
    }
  }

  // Maximal runs of consecutive nodes on one backend.
  for (NodeId n = 0; n < nodes.size(); ++n) {
    size_t b = placement_.nodes[n].backend;
    if (segments_.empty() || segments_.back().backend != b) segments_.push_back(Segment{b, {}, {}, {}, {}, {}});
    segments_.back().nodes.push_back(n);
  }

  // A tensor leaves its segment when a later segment or the caller needs it.
  std::vector<size_t> segment_of(nodes.size());
  for (size_t s = 0; s < segments_.size(); ++s) {
    for (NodeId n : segments_[s].nodes) segment_of[n] = s;
  }
  std::vector<bool> crosses(tensors.size(), false);
  for (NodeId n = 0; n < nodes.size(); ++n) {
    for (TensorId t : nodes[n].inputs) {
      if (tensors[t].kind == TensorKind::activation && segment_of[tensors[t].producer] != segment_of[n]) crosses[t] = true;
    }
  }
  for (TensorId t = 0; t < tensors.size(); ++t) {
    if (tensors[t].is_output) crosses[t] = true;
  }

  for (Segment& seg : segments_) {
    const auto& backend = placement_.backends[seg.backend];
    std::map<TensorId, uint32_t> local;
    std::vector<fathom_segment_tensor> table;
    std::vector<fathom_binding> bindings;
    std::set<TensorId> produced_here;
    for (NodeId n : seg.nodes) {
      for (TensorId t : nodes[n].outputs) produced_here.insert(t);
    }
    auto local_id = [&](TensorId t) -> uint32_t {
      auto it = local.find(t);
      if (it != local.end()) return it->second;
      const Tensor& tensor = tensors[t];
      uint32_t role;
      switch (tensor.kind) {
        case TensorKind::input: role = FATHOM_ROLE_INPUT; break;
        case TensorKind::weight: role = FATHOM_ROLE_WEIGHT; break;
        case TensorKind::state: role = FATHOM_ROLE_STATE; break;
        default:
          role = !produced_here.count(t) ? FATHOM_ROLE_INPUT : (crosses[t] ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL);
      }
      uint32_t id = static_cast<uint32_t>(table.size());
      table.push_back({tensor.desc, role, 0, tensor.name.c_str()});
      seg.local_to_graph.push_back(t);
      local.emplace(t, id);
      if (role == FATHOM_ROLE_INPUT || role == FATHOM_ROLE_OUTPUT) seg.io.emplace_back(id, t);
      if (role == FATHOM_ROLE_WEIGHT) bindings.push_back({id, 0, weights_.view(*tensor.weight, backend)});
      if (role == FATHOM_ROLE_STATE) bindings.push_back({id, 0, states_.view(tensor.name, backend, desc_bytes(tensor.desc, 0))});
      // An input that lives on another backend is copied over before the segment runs.
      if (role == FATHOM_ROLE_INPUT && home_[t] != seg.backend) seg.copies.push_back({t, home_[t], seg.backend});
      return id;
    };
    std::vector<std::vector<uint32_t>> ins(seg.nodes.size()), outs(seg.nodes.size());
    std::vector<fathom_segment_node> raw_nodes;
    for (size_t i = 0; i < seg.nodes.size(); ++i) {
      const Node& node = nodes[seg.nodes[i]];
      for (TensorId t : node.inputs) ins[i].push_back(local_id(t));
      for (TensorId t : node.outputs) outs[i].push_back(local_id(t));
    }
    for (size_t i = 0; i < seg.nodes.size(); ++i) {
      const Node& node = nodes[seg.nodes[i]];
      raw_nodes.push_back({node.op, static_cast<uint32_t>(ins[i].size()), static_cast<uint32_t>(outs[i].size()),
                           static_cast<uint32_t>(node.attrs.size()), ins[i].data(), outs[i].data(),
                           node.attrs.empty() ? nullptr : node.attrs.data(), node.name.c_str()});
    }
    fathom_segment segment{sizeof(fathom_segment), static_cast<uint32_t>(table.size()),
                           static_cast<uint32_t>(raw_nodes.size()), 0, table.data(), raw_nodes.data(), max_tokens_};
    seg.executable = Executable::compile(backend, 0, segment, bindings);
    if (on_segment) on_segment(static_cast<size_t>(&seg - segments_.data()) + 1, segments_.size());
  }
  log().info("executor: {} nodes in {} segments, {} copies per run", nodes.size(), segments_.size(), copies_per_run());
}

void Executor::run(const std::map<std::string, HostTensorIn>& inputs, int64_t n_tokens,
                   std::map<std::string, std::vector<std::byte>>& outputs) {
  if (n_tokens < 1 || n_tokens > max_tokens_) {
    throw out_of_range("executor: " + std::to_string(n_tokens) + " tokens in one run; this executor takes 1.." +
                       std::to_string(max_tokens_));
  }
  const auto& tensors = graph_.tensors();
  // Graph inputs go to the backend of their first consumer; copies move them on from there.
  for (TensorId t : graph_.inputs()) {
    auto it = inputs.find(tensors[t].name);
    if (it == inputs.end()) throw invalid_argument("executor: input '" + tensors[t].name + "' not given");
    const uint64_t need = bytes_for(t, n_tokens);
    if (it->second.bytes != need) {
      throw invalid_argument("executor: input '" + tensors[t].name + "' has " + std::to_string(it->second.bytes) +
                             " bytes, expected " + std::to_string(need));
    }
    if (home_[t] == SIZE_MAX) continue;  // no node reads it
    transit_buffer(t, home_[t]).upload(0, it->second.data, need);
  }

  std::vector<std::byte> staging;
  for (Segment& seg : segments_) {
    const auto copy_start = std::chrono::steady_clock::now();
    for (const Copy& c : seg.copies) {
      const uint64_t bytes = bytes_for(c.tensor, n_tokens);
      Buffer& from = transit_buffer(c.tensor, c.from_backend);
      Buffer& to = transit_buffer(c.tensor, c.to_backend);
      staging.resize(bytes);
      from.download(0, staging.data(), bytes);
      to.upload(0, staging.data(), bytes);
      ++copy_calls_;
    }
    copy_ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - copy_start).count();
    std::vector<fathom_binding> bindings;
    for (const auto& [local, t] : seg.io) {
      bindings.push_back({local, 0, transit_buffer(t, seg.backend).view(0, bytes_for(t, n_tokens))});
    }
    seg.executable.run(bindings, n_tokens);
  }

  for (TensorId t : graph_.outputs()) {
    const uint64_t bytes = bytes_for(t, n_tokens);
    std::vector<std::byte>& out = outputs[tensors[t].name];
    out.resize(bytes);
    transit_buffer(t, home_[t]).download(0, out.data(), bytes);
  }
}

std::vector<Executor::OpTime> Executor::sum_by_op(const std::vector<OpTime>& times) {
  std::map<std::pair<std::string, std::string>, OpTime> by_key;
  for (const OpTime& t : times) {
    OpTime& sum = by_key[{t.op, t.backend}];
    sum.op = t.op;
    sum.backend = t.backend;
    sum.calls += t.calls;
    sum.total_ms += t.total_ms;
  }
  std::vector<OpTime> out;
  for (auto& [key, t] : by_key) out.push_back(t);
  return out;
}

std::vector<Executor::OpTime> Executor::op_times() const {
  std::vector<OpTime> per_node;
  for (const NodeTime& n : node_times()) per_node.push_back(OpTime{n.op, n.backend, n.calls, n.total_ms});
  std::vector<OpTime> out = sum_by_op(per_node);
  if (copy_calls_ > 0) out.push_back(OpTime{"copy", "host staging", copy_calls_, copy_ms_});
  return out;
}

std::vector<Executor::NodeTime> Executor::node_times() const {
  std::vector<NodeTime> out;
  for (const Segment& seg : segments_) {
    const std::string& backend = placement_.backends[seg.backend]->name();
    const auto profile = seg.executable.profile(seg.nodes.size());
    for (size_t i = 0; i < profile.size(); ++i) {
      const Node& node = graph_.node(seg.nodes[i]);
      NodeTime t{node.name, std::string(op_name(node.op)), backend, profile[i].calls,
                 static_cast<double>(profile[i].total_ns) / 1e6, 0};
      for (TensorId in : node.inputs) {
        const Tensor& tensor = graph_.tensor(in);
        if (tensor.kind == TensorKind::weight && tensor.weight) t.weight_bytes += tensor.weight->nbytes;
      }
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace fathom::graph
