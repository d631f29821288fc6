// What each op of a compiled segment is on this backend: built once at compile() (weights and
// state are bound by then, so an op may repack weights or build device tables), then launched
// on the device's stream at every run(). Launches must only enqueue device work — no host
// synchronisation, no allocation — so that a run can be captured as a CUDA graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fathom/plugin_api.h"
#include "fathom/sdk/status.hpp"
#include "runtime/device.h"
#include "runtime/options.h"

namespace fathom::cuda {

struct TensorInfo {
  fathom_tensor_desc desc{};
  uint32_t role = 0;
  std::string name;
  void* ptr = nullptr;  // weights, state and internal tensors: fixed at compile; I/O: per run
};

// Device memory an executable keeps for its ops (repacked scales, pointer tables, tables).
class PersistentMemory {
 public:
  PersistentMemory() = default;
  ~PersistentMemory();
  PersistentMemory(const PersistentMemory&) = delete;
  PersistentMemory& operator=(const PersistentMemory&) = delete;

  void* allocate(size_t bytes);
  // Allocates and fills from host memory (synchronously: compile time only).
  void* upload(const void* src, size_t bytes);
  // A buffer derived from the device data at `source` (a converted copy of a weight), made by
  // `fill` into `bytes` new bytes the first time an op asks, and shared after: ops that read
  // the same weight (a fused op and the nodes' own ops it falls back to) hold one copy.
  template <typename Fill>
  void* derived(const void* source, size_t bytes, Fill&& fill) {
    for (const Derived& d : derived_) {
      if (d.source == source && d.bytes == bytes) return d.copy;
    }
    void* copy = allocate(bytes);
    fill(copy);
    derived_.push_back({source, bytes, copy});
    return copy;
  }

 private:
  struct Derived {
    const void* source;
    size_t bytes;
    void* copy;
  };
  std::vector<void*> blocks_;
  std::vector<Derived> derived_;
};

struct OpBuild {
  Device& device;
  const Options& options;
  const fathom_op_desc& desc;  // descriptors as in the segment (first dims may be FATHOM_DIM_TOKENS)
  const std::vector<uint32_t>& inputs;   // tensor indices
  const std::vector<uint32_t>& outputs;
  const std::vector<TensorInfo>& tensors;
  int64_t max_tokens;
  PersistentMemory& memory;
  const std::string& name;

  // Weights and state are bound at compile; everything else only at run().
  bool is_constant(size_t i) const {
    const uint32_t role = tensors[inputs[i]].role;
    return role == FATHOM_ROLE_WEIGHT || role == FATHOM_ROLE_STATE;
  }
  void* input_ptr(size_t i) const { return tensors[inputs[i]].ptr; }  // null unless is_constant(i)
  // The most rows input i will have at run(): max_tokens for a [FATHOM_DIM_TOKENS, ...] tensor,
  // the fixed extent otherwise. Size workspaces with this, not with max_tokens.
  int64_t max_rows(size_t i) const {
    const fathom_tensor_desc& d = desc.inputs[i];
    return d.rank == 0 ? 1 : (d.shape[0] == FATHOM_DIM_TOKENS ? max_tokens : d.shape[0]);
  }
};

struct OpRun {
  Device& device;
  cudaStream_t stream;
  int64_t tokens;
  const std::vector<TensorInfo>& tensors;
  std::byte* workspace;  // shared by all ops of the executable, 256-byte aligned
  size_t workspace_bytes;
  int* error;  // the executable's error word (KernelError codes)

  void* ptr(uint32_t tensor) const { return tensors[tensor].ptr; }
};

class Op {
 public:
  virtual ~Op() = default;
  // Scratch this op needs during a launch, for up to max_tokens tokens.
  virtual size_t workspace_bytes() const { return 0; }
  virtual void launch(const OpRun& run) = 0;
};

// Carves aligned pieces out of the shared workspace, in order.
class WorkspaceCursor {
 public:
  WorkspaceCursor(std::byte* base, size_t size) : base_(base), size_(size) {}
  template <typename T>
  T* take(size_t count);
  // The bytes a sequence of take() calls needs: sum of sizes each rounded up to 256.
  static size_t round(size_t bytes) { return (bytes + 255) / 256 * 256; }

 private:
  std::byte* base_;
  size_t size_;
  size_t used_ = 0;
};

template <typename T>
T* WorkspaceCursor::take(size_t count) {
  const size_t bytes = round(count * sizeof(T));
  if (used_ + bytes > size_)
    throw sdk::Error(FATHOM_STATUS_INTERNAL, "workspace overrun: an op took more than it declared (" +
                                                 std::to_string(used_ + bytes) + " > " + std::to_string(size_) + ")");
  T* p = reinterpret_cast<T*>(base_ + used_);
  used_ += bytes;
  return p;
}

}  // namespace fathom::cuda
