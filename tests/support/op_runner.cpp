#include "op_runner.h"

#include <cstring>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"
#include "fathom/sdk/tensor.hpp"

namespace fathom::test {

fathom_tensor_desc make_desc(uint32_t dtype, std::vector<int64_t> shape, uint32_t layout) {
  fathom_tensor_desc d{};
  d.dtype = dtype;
  d.layout = layout;
  d.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) d.shape[i] = shape[i];
  return d;
}

size_t desc_bytes(const fathom_tensor_desc& d) {
  if (sdk::is_ggml_layout(d.layout)) return sdk::byte_size(d, 0);  // GGUF blocks, not elements
  size_t n = dtype_size(dtype_from_id(d.dtype));
  for (int i = 0; i < d.rank; ++i) n *= static_cast<size_t>(d.shape[i]);
  return n;
}

fathom_op_desc OpCall::desc(std::vector<fathom_tensor_desc>& in, std::vector<fathom_tensor_desc>& out) const {
  in.clear();
  out.clear();
  for (const auto& t : inputs) in.push_back(t.desc);
  for (const auto& t : outputs) out.push_back(t.desc);
  return fathom_op_desc{sizeof(fathom_op_desc), op, static_cast<uint32_t>(in.size()), static_cast<uint32_t>(out.size()),
                        in.data(), out.data(), attrs.empty() ? nullptr : attrs.data(),
                        static_cast<uint32_t>(attrs.size()), 0};
}

OpSupport query(const std::shared_ptr<BackendInstance>& backend, const OpCall& call) {
  std::vector<fathom_tensor_desc> in, out;
  fathom_op_desc d = call.desc(in, out);
  return backend->query_ops(0, std::span<const fathom_op_desc>(&d, 1)).at(0);
}

uint32_t SegmentCall::add(OpTensor t, uint32_t role) {
  tensors.push_back(std::move(t));
  roles.push_back(role);
  return static_cast<uint32_t>(tensors.size() - 1);
}

void run_segment(const std::shared_ptr<BackendInstance>& backend, SegmentCall& call, int runs,
                 const std::function<void(int run)>& after_run) {
  if (call.roles.size() != call.tensors.size()) throw internal_error("op_runner: a role per tensor");
  std::vector<fathom_segment_tensor> tensors;
  std::vector<Buffer> buffers;
  std::vector<int64_t> buffer_of(call.tensors.size(), -1);
  std::vector<fathom_binding> compile_bindings, run_bindings;
  for (size_t i = 0; i < call.tensors.size(); ++i) {
    OpTensor& t = call.tensors[i];
    const uint32_t role = call.roles[i];
    const uint32_t index = static_cast<uint32_t>(i);
    tensors.push_back({t.desc, role, 0, role == FATHOM_ROLE_OUTPUT ? "output" : "input"});
    if (role == FATHOM_ROLE_INTERNAL) continue;
    const size_t bytes = desc_bytes(t.desc);
    Buffer b = Buffer::allocate(backend, 0, std::max<size_t>(bytes, 1));
    if (role == FATHOM_ROLE_INPUT || role == FATHOM_ROLE_WEIGHT) {
      if (t.data.size() != bytes) throw internal_error("op_runner: input data size does not match its desc");
      if (bytes) b.upload(0, t.data.data(), bytes);
    }
    (role == FATHOM_ROLE_WEIGHT ? compile_bindings : run_bindings).push_back({index, 0, b.view(0, bytes)});
    buffer_of[i] = static_cast<int64_t>(buffers.size());
    buffers.push_back(std::move(b));
  }
  std::vector<fathom_segment_node> nodes;
  for (const SegmentCall::Node& n : call.nodes) {
    nodes.push_back({n.op, static_cast<uint32_t>(n.inputs.size()), static_cast<uint32_t>(n.outputs.size()),
                     static_cast<uint32_t>(n.attrs.size()), n.inputs.data(), n.outputs.data(),
                     n.attrs.empty() ? nullptr : n.attrs.data(), "op"});
  }
  fathom_segment segment{sizeof(fathom_segment), static_cast<uint32_t>(tensors.size()), static_cast<uint32_t>(nodes.size()),
                         0, tensors.data(), nodes.data(), 0};
  Executable exe = Executable::compile(backend, 0, segment, compile_bindings);
  auto download_outputs = [&] {
    for (size_t i = 0; i < call.tensors.size(); ++i) {
      if (call.roles[i] != FATHOM_ROLE_OUTPUT) continue;
      OpTensor& t = call.tensors[i];
      t.data.resize(desc_bytes(t.desc));
      if (!t.data.empty()) buffers[static_cast<size_t>(buffer_of[i])].download(0, t.data.data(), t.data.size());
    }
  };
  for (int r = 0; r < runs; ++r) {
    // Outputs are set to NaN (0xFF bytes) before every run, so that a run (a replayed graph) that
    // leaves an output unwritten is not hidden by what the buffer held.
    for (size_t i = 0; i < call.tensors.size(); ++i) {
      if (call.roles[i] != FATHOM_ROLE_OUTPUT) continue;
      const std::vector<std::byte> nan(desc_bytes(call.tensors[i].desc), std::byte{0xFF});
      if (!nan.empty()) buffers[static_cast<size_t>(buffer_of[i])].upload(0, nan.data(), nan.size());
    }
    exe.run(run_bindings, 0);
    if (after_run) {
      download_outputs();
      after_run(r);
    }
  }
  if (!after_run) download_outputs();
}

void run_op(const std::shared_ptr<BackendInstance>& backend, OpCall& call) {
  SegmentCall segment;
  SegmentCall::Node node{call.op, {}, {}, call.attrs};
  for (const OpTensor& t : call.inputs) node.inputs.push_back(segment.add(t, t.weight ? FATHOM_ROLE_WEIGHT : FATHOM_ROLE_INPUT));
  for (const OpTensor& t : call.outputs) node.outputs.push_back(segment.add(t, FATHOM_ROLE_OUTPUT));
  segment.nodes.push_back(std::move(node));
  run_segment(backend, segment);
  for (size_t i = 0; i < call.outputs.size(); ++i) call.outputs[i].data = std::move(segment.tensors[segment.nodes[0].outputs[i]].data);
}

}  // namespace fathom::test
