#include "op_runner.h"

#include <cstring>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"

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

void run_op(const std::shared_ptr<BackendInstance>& backend, OpCall& call) {
  std::vector<fathom_segment_tensor> tensors;
  std::vector<uint32_t> in_idx, out_idx;
  std::vector<Buffer> buffers;
  std::vector<fathom_binding> compile_bindings, run_bindings;
  for (auto& t : call.inputs) {
    uint32_t index = static_cast<uint32_t>(tensors.size());
    tensors.push_back({t.desc, t.weight ? uint32_t{FATHOM_ROLE_WEIGHT} : uint32_t{FATHOM_ROLE_INPUT}, 0, "input"});
    in_idx.push_back(index);
    Buffer b = Buffer::allocate(backend, 0, std::max<size_t>(t.data.size(), 1));
    if (t.data.size() != desc_bytes(t.desc)) throw internal_error("op_runner: input data size does not match its desc");
    if (!t.data.empty()) b.upload(0, t.data.data(), t.data.size());
    (t.weight ? compile_bindings : run_bindings).push_back({index, 0, b.view(0, t.data.size())});
    buffers.push_back(std::move(b));
  }
  std::vector<size_t> out_buffer;
  for (auto& t : call.outputs) {
    uint32_t index = static_cast<uint32_t>(tensors.size());
    tensors.push_back({t.desc, FATHOM_ROLE_OUTPUT, 0, "output"});
    out_idx.push_back(index);
    size_t bytes = desc_bytes(t.desc);
    Buffer b = Buffer::allocate(backend, 0, std::max<size_t>(bytes, 1));
    run_bindings.push_back({index, 0, b.view(0, bytes)});
    out_buffer.push_back(buffers.size());
    buffers.push_back(std::move(b));
  }
  fathom_segment_node node{call.op,
                           static_cast<uint32_t>(in_idx.size()),
                           static_cast<uint32_t>(out_idx.size()),
                           static_cast<uint32_t>(call.attrs.size()),
                           in_idx.data(),
                           out_idx.data(),
                           call.attrs.empty() ? nullptr : call.attrs.data(),
                           "op"};
  fathom_segment segment{sizeof(fathom_segment), static_cast<uint32_t>(tensors.size()), 1, 0, tensors.data(), &node, 0};
  Executable exe = Executable::compile(backend, 0, segment, compile_bindings);
  exe.run(run_bindings, 0);
  for (size_t i = 0; i < call.outputs.size(); ++i) {
    auto& t = call.outputs[i];
    t.data.resize(desc_bytes(t.desc));
    if (!t.data.empty()) buffers[out_buffer[i]].download(0, t.data.data(), t.data.size());
  }
}

}  // namespace fathom::test
