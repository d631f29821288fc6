// A ready-made base for backends that compute in host memory (reference, cpu, template):
// host buffers, mmap import, and a segment executor that runs one kernel per node. A subclass
// only says which op signatures it supports and hands out a kernel for each.
//
// A backend that must look at a node's constant inputs once (pack or dequantise weights, build
// library primitives, precompute tables from the attributes) overrides prepare() instead of
// kernel(): it is called at compile, after weights and state are bound, and returns an object
// that the executable keeps for its lifetime and runs on every run().
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fathom/plugin_api.h"
#include "fathom/sdk/op_signature.hpp"
#include "fathom/sdk/plugin.hpp"
#include "fathom/sdk/tensor.hpp"

namespace fathom::sdk {

// A tensor as a kernel sees it for one run: resolved shape and a host pointer.
struct HostTensor {
  fathom_tensor_desc desc{};
  std::byte* data = nullptr;

  int rank() const { return desc.rank; }
  int64_t dim(int d) const { return desc.shape[d]; }  // resolved (never FATHOM_DIM_TOKENS)
  int64_t numel() const { return element_count(desc, 0); }
  uint32_t dtype() const { return desc.dtype; }
  template <typename T>
  T* as() const { return reinterpret_cast<T*>(data); }
};

struct KernelArgs {
  std::span<HostTensor* const> in;
  std::span<HostTensor* const> out;
  const void* attrs = nullptr;
  uint32_t attrs_size = 0;

  // The attrs struct; fields beyond what the host sent stay zero.
  template <typename A>
  A attrs_as() const {
    A a{};
    if (attrs) std::memcpy(&a, attrs, std::min<size_t>(sizeof(A), attrs_size));
    return a;
  }
};

using HostKernel = void (*)(const KernelArgs&);

// What a backend keeps for one node of one executable, built once by prepare().
class PreparedNode {
 public:
  virtual ~PreparedNode() = default;
  virtual void run(const KernelArgs& args) = 0;
};

// A node as prepare() sees it. Inputs bound at compile (weights, state) have their data and a
// fully resolved shape; the others have data == nullptr and may keep FATHOM_DIM_TOKENS.
struct PrepareArgs {
  const fathom_op_desc& op;
  std::span<const HostTensor* const> in;
  std::span<const uint32_t> in_roles;  // FATHOM_ROLE_* of each input
  const std::string& node_name;
  int64_t max_tokens;

  bool is_constant(size_t i) const {
    return in_roles[i] == FATHOM_ROLE_WEIGHT || in_roles[i] == FATHOM_ROLE_STATE;
  }
};

class HostBackend : public Backend {
 public:
  fathom_op_support query_op(uint32_t device, const fathom_op_desc& op) override {
    if (device != 0) return {FATHOM_SUPPORT_NO, 0, "no such device"};
    if (const char* why = check_signature(op)) return {FATHOM_SUPPORT_NO, 0, why};
    return support(op);
  }

  fathom_buffer* buffer_alloc(uint32_t device, uint64_t size) override {
    auto b = std::make_unique<Buffer>();
    // 64-byte alignment: a cache line and a full AVX-512 vector.
    uint64_t rounded = (std::max<uint64_t>(size, 1) + 63) / 64 * 64;
    b->data = static_cast<std::byte*>(std::aligned_alloc(64, rounded));
    if (!b->data) fail(FATHOM_STATUS_RESOURCE_EXHAUSTED, "cannot allocate " + std::to_string(size) + " bytes");
    b->size = size;
    b->owned = true;
    return reinterpret_cast<fathom_buffer*>(b.release());
  }
  fathom_buffer* buffer_import_host(uint32_t device, void* ptr, uint64_t size) override {
    auto b = std::make_unique<Buffer>();
    b->data = static_cast<std::byte*>(ptr);
    b->size = size;
    b->owned = false;
    return reinterpret_cast<fathom_buffer*>(b.release());
  }
  void buffer_free(fathom_buffer* buffer) override {
    Buffer* b = reinterpret_cast<Buffer*>(buffer);
    if (b && b->owned) std::free(b->data);
    delete b;
  }
  void* buffer_host_pointer(fathom_buffer* buffer) override { return reinterpret_cast<Buffer*>(buffer)->data; }
  void buffer_upload(fathom_view dst, const void* src) override { std::memcpy(resolve(dst), src, dst.size); }
  void buffer_download(fathom_view src, void* dst) override { std::memcpy(dst, resolve(src), src.size); }
  void buffer_copy(fathom_view src, fathom_view dst) override {
    if (src.size != dst.size) fail_invalid("buffer_copy: views differ in size");
    std::memmove(resolve(dst), resolve(src), src.size);
  }
  void buffer_gather_rows(fathom_view src, fathom_view dst, std::span<const int32_t> ids, uint64_t row_bytes) override {
    std::byte* s = resolve(src);
    std::byte* d = resolve(dst);
    if (row_bytes == 0 || ids.size() * row_bytes > dst.size) fail_invalid("gather_rows: destination too small");
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || (static_cast<uint64_t>(ids[i]) + 1) * row_bytes > src.size)
        fail(FATHOM_STATUS_OUT_OF_RANGE, "gather_rows: row id " + std::to_string(ids[i]) + " outside the source");
      std::memcpy(d + i * row_bytes, s + static_cast<uint64_t>(ids[i]) * row_bytes, row_bytes);
    }
  }

  fathom_executable* compile(uint32_t device, const fathom_segment& segment,
                             std::span<const fathom_binding> bindings) override {
    auto exe = std::make_unique<Executable>();
    exe->max_tokens = segment.max_tokens;
    exe->tensors.resize(segment.n_tensors);
    exe->views.resize(segment.n_tensors);
    for (uint32_t i = 0; i < segment.n_tensors; ++i) {
      const fathom_segment_tensor& t = segment.tensors[i];
      exe->tensors[i] = {t.desc, t.role, t.name ? t.name : ("#" + std::to_string(i))};
    }
    // Constant tensors are bound before the nodes are prepared, so that prepare() can read them.
    for (const fathom_binding& b : bindings) {
      Tensor& t = tensor_at(*exe, b.tensor);
      if (t.role != FATHOM_ROLE_WEIGHT && t.role != FATHOM_ROLE_STATE)
        fail_invalid("compile binds tensor '" + t.name + "', which is not a weight or state tensor");
      exe->views[b.tensor].data = checked_view(b.view, t, 0);
    }
    for (uint32_t i = 0; i < segment.n_tensors; ++i) {
      Tensor& t = exe->tensors[i];
      exe->views[i].desc = t.desc;
      if ((t.role == FATHOM_ROLE_WEIGHT || t.role == FATHOM_ROLE_STATE) && !exe->views[i].data)
        fail_invalid("compile: weight/state tensor '" + t.name + "' is not bound");
      if (t.role == FATHOM_ROLE_INTERNAL) {
        exe->internal.emplace_back(byte_size(t.desc, std::max<int64_t>(exe->max_tokens, 1)));
        exe->views[i].data = exe->internal.back().data();
      }
    }
    for (uint32_t n = 0; n < segment.n_nodes; ++n) exe->nodes.push_back(compile_node(*exe, segment.nodes[n]));
    return reinterpret_cast<fathom_executable*>(exe.release());
  }

  void run(fathom_executable* executable, std::span<const fathom_binding> bindings, int64_t n_tokens) override {
    Executable& exe = *reinterpret_cast<Executable*>(executable);
    if (n_tokens < 0 || n_tokens > exe.max_tokens)
      fail(FATHOM_STATUS_OUT_OF_RANGE, "run: " + std::to_string(n_tokens) + " tokens, but compiled for at most " +
                                           std::to_string(exe.max_tokens));
    for (uint32_t i = 0; i < exe.tensors.size(); ++i) {
      if (exe.tensors[i].role == FATHOM_ROLE_INPUT || exe.tensors[i].role == FATHOM_ROLE_OUTPUT) exe.views[i].data = nullptr;
    }
    for (const fathom_binding& b : bindings) {
      Tensor& t = tensor_at(exe, b.tensor);
      if (t.role != FATHOM_ROLE_INPUT && t.role != FATHOM_ROLE_OUTPUT)
        fail_invalid("run binds tensor '" + t.name + "', which is not an input or output");
      exe.views[b.tensor].data = checked_view(b.view, t, n_tokens);
    }
    for (uint32_t i = 0; i < exe.tensors.size(); ++i) {
      const Tensor& t = exe.tensors[i];
      if (!exe.views[i].data && element_count(t.desc, n_tokens) > 0)
        fail_invalid("run: tensor '" + t.name + "' is not bound");
      exe.views[i].desc = t.desc;
      for (int d = 0; d < t.desc.rank; ++d) exe.views[i].desc.shape[d] = extent(t.desc, d, n_tokens);
    }
    for (Node& node : exe.nodes) {
      KernelArgs args{node.in, node.out, node.attrs.empty() ? nullptr : node.attrs.data(),
                      static_cast<uint32_t>(node.attrs.size())};
      const auto start = std::chrono::steady_clock::now();
      node.prepared->run(args);
      node.profile.calls += 1;
      node.profile.total_ns += static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
      if (check_finite_) check_outputs_finite(node, node.out);
    }
  }

  void executable_destroy(fathom_executable* executable) override { delete reinterpret_cast<Executable*>(executable); }

  void executable_profile(fathom_executable* executable, std::span<fathom_node_profile> out) override {
    const Executable& exe = *reinterpret_cast<Executable*>(executable);
    if (out.size() != exe.nodes.size()) fail_invalid("executable_profile: the segment has " + std::to_string(exe.nodes.size()) + " nodes");
    for (size_t i = 0; i < out.size(); ++i) out[i] = exe.nodes[i].profile;
  }

 protected:
  // When set, every f32 output is scanned after its node runs and a NaN or Inf fails the run
  // naming the node: slow, for finding where a model goes wrong.
  bool check_finite_ = false;

  // Dtype support for a structurally valid op (check_signature already passed).
  virtual fathom_op_support support(const fathom_op_desc& op) = 0;
  // The kernel for a supported op (used by the default prepare()).
  virtual HostKernel kernel(const fathom_op_desc& op) {
    fail_unsupported("this backend has no plain kernel for op " + std::to_string(op.op));
  }
  // The per-node object of a supported op, built at compile. The default runs kernel(op).
  virtual std::unique_ptr<PreparedNode> prepare(const PrepareArgs& args) {
    return std::make_unique<FunctionNode>(kernel(args.op));
  }

 private:
  class FunctionNode final : public PreparedNode {
   public:
    explicit FunctionNode(HostKernel k) : kernel_(k) {}
    void run(const KernelArgs& args) override { kernel_(args); }

   private:
    HostKernel kernel_;
  };
  struct Buffer {
    std::byte* data = nullptr;
    uint64_t size = 0;
    bool owned = false;
  };
  struct Tensor {
    fathom_tensor_desc desc;
    uint32_t role;
    std::string name;
  };
  struct Node {
    std::string name;
    std::unique_ptr<PreparedNode> prepared;
    std::vector<uint32_t> inputs, outputs;
    std::vector<HostTensor*> in, out;  // into Executable::views, which never reallocates after compile
    std::vector<std::byte> attrs;
    fathom_node_profile profile{};
  };
  struct Executable {
    int64_t max_tokens = 0;
    std::vector<Tensor> tensors;
    std::vector<HostTensor> views;
    std::vector<Node> nodes;
    std::vector<std::vector<std::byte>> internal;
  };

  static std::byte* resolve(fathom_view v) {
    Buffer* b = reinterpret_cast<Buffer*>(v.buffer);
    if (!b) fail_invalid("NULL buffer");
    if (v.offset > b->size || v.size > b->size - v.offset)
      fail(FATHOM_STATUS_OUT_OF_RANGE, "view [" + std::to_string(v.offset) + ", +" + std::to_string(v.size) +
                                           ") outside a buffer of " + std::to_string(b->size) + " bytes");
    return b->data + v.offset;
  }

  static Tensor& tensor_at(Executable& exe, uint32_t index) {
    if (index >= exe.tensors.size()) fail_invalid("binding names tensor #" + std::to_string(index) + ", which does not exist");
    return exe.tensors[index];
  }

  static std::byte* checked_view(fathom_view view, const Tensor& t, int64_t n_tokens) {
    uint64_t need = byte_size(t.desc, n_tokens);
    if (view.size < need)
      fail_invalid("tensor '" + t.name + "' needs " + std::to_string(need) + " bytes, its view has " +
                   std::to_string(view.size));
    return resolve(view);
  }

  static void check_outputs_finite(const Node& node, const std::vector<HostTensor*>& outputs) {
    for (const HostTensor* t : outputs) {
      if (t->dtype() != FATHOM_DTYPE_F32) continue;
      const float* v = t->as<const float>();
      for (int64_t i = 0; i < t->numel(); ++i) {
        if (!std::isfinite(v[i]))
          fail(FATHOM_STATUS_INTERNAL, "node '" + node.name + "' produced a non-finite value at element " + std::to_string(i));
      }
    }
  }

  Node compile_node(Executable& exe, const fathom_segment_node& n) {
    Node node;
    node.name = n.name ? n.name : "?";
    std::vector<fathom_tensor_desc> in, out;
    for (uint32_t i = 0; i < n.n_inputs; ++i) {
      node.inputs.push_back(n.inputs[i]);
      in.push_back(tensor_at(exe, n.inputs[i]).desc);
    }
    for (uint32_t o = 0; o < n.n_outputs; ++o) {
      node.outputs.push_back(n.outputs[o]);
      out.push_back(tensor_at(exe, n.outputs[o]).desc);
    }
    if (n.attrs && n.attrs_size) {
      auto* p = static_cast<const std::byte*>(n.attrs);
      node.attrs.assign(p, p + n.attrs_size);
    }
    fathom_op_desc desc{sizeof(fathom_op_desc), n.op, n.n_inputs, n.n_outputs, in.data(), out.data(),
                        node.attrs.empty() ? nullptr : node.attrs.data(), static_cast<uint32_t>(node.attrs.size()), 0};
    fathom_op_support s = query_op(0, desc);
    if (s.level == FATHOM_SUPPORT_NO)
      fail_unsupported("node '" + std::string(n.name ? n.name : "?") + "': " + (s.reason ? s.reason : "not supported"));
    std::vector<uint32_t> roles;
    for (uint32_t i : node.inputs) {
      node.in.push_back(&exe.views[i]);
      roles.push_back(exe.tensors[i].role);
    }
    for (uint32_t o : node.outputs) node.out.push_back(&exe.views[o]);
    // Inputs bound only at run are shown to prepare() as their descriptor without data.
    std::vector<HostTensor> unbound(node.in.size());
    std::vector<const HostTensor*> visible(node.in.size());
    for (size_t i = 0; i < node.in.size(); ++i) {
      const bool constant = roles[i] == FATHOM_ROLE_WEIGHT || roles[i] == FATHOM_ROLE_STATE;
      unbound[i].desc = node.in[i]->desc;
      visible[i] = constant ? node.in[i] : &unbound[i];
    }
    PrepareArgs args{desc, visible, roles, node.name, exe.max_tokens};
    node.prepared = prepare(args);
    if (!node.prepared) fail(FATHOM_STATUS_INTERNAL, "node '" + node.name + "': prepare() returned nothing");
    return node;
  }
};

}  // namespace fathom::sdk
