#include "backend.h"

#include <algorithm>
#include <string>

#include "fathom/sdk/op_signature.hpp"
#include "ops/registry.h"
#include "runtime/check.h"
#include "runtime/executable.h"

namespace fathom::cuda {

namespace {

struct DeviceBuffer {
  std::byte* ptr = nullptr;
  uint64_t size = 0;
  int device = 0;
};

DeviceBuffer& buffer_of(fathom_buffer* b) {
  if (!b) sdk::fail_invalid("NULL buffer");
  return *reinterpret_cast<DeviceBuffer*>(b);
}

std::byte* resolve_view(const fathom_view& v, int device) {
  DeviceBuffer& b = buffer_of(v.buffer);
  if (b.device != device) sdk::fail_invalid("a buffer of " FATHOM_GPU_RUNTIME " device " + std::to_string(b.device) + " used on device " + std::to_string(device));
  if (v.offset > b.size || v.size > b.size - v.offset)
    sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "view [" + std::to_string(v.offset) + ", +" + std::to_string(v.size) +
                                              ") outside a buffer of " + std::to_string(b.size) + " bytes");
  return b.ptr + v.offset;
}

}  // namespace

CudaBackend::CudaBackend(const Options& options) : options_(options) {
  int count = 0;
  FATHOM_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (options.device < 0 || options.device >= count)
    sdk::fail(FATHOM_STATUS_UNAVAILABLE, "option device = " + std::to_string(options.device) + ", but this machine has " +
                                             std::to_string(count) + " " FATHOM_GPU_RUNTIME " device(s)");
  device_ = std::make_unique<Device>(options.device);
}

CudaBackend::~CudaBackend() = default;

void CudaBackend::check_device(uint32_t device) const {
  if (device != 0) sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "the " FATHOM_GPU_BACKEND " backend drives one device (index 0)");
}

void CudaBackend::device_info(uint32_t, fathom_device_info& out) {
  device_->activate();
  out.kind = FATHOM_DEVICE_GPU;
  sdk::copy_text(out.name, sizeof out.name, device_->props().name);
  sdk::copy_text(out.description, sizeof out.description, FATHOM_GPU_RUNTIME " device " + std::to_string(device_->index()) + ", " + device_->description());
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    out.total_memory = total_bytes;
    out.free_memory = free_bytes;
  }
}

std::vector<uint32_t> CudaBackend::op_kinds() {
  std::vector<uint32_t> kinds;
  for (const OpEntry& e : op_registry()) kinds.push_back(e.op);
  return kinds;
}

fathom_op_support CudaBackend::query_op(uint32_t device, const fathom_op_desc& op) {
  if (device != 0) return {FATHOM_SUPPORT_NO, 0, "no such device"};
  if (const char* why = sdk::check_signature(op)) return {FATHOM_SUPPORT_NO, 0, why};
  const OpEntry* entry = find_op(op.op);
  if (!entry) return {FATHOM_SUPPORT_NO, 0, "not implemented by the " FATHOM_GPU_BACKEND " backend"};
  return entry->support(op);
}

fathom_buffer* CudaBackend::buffer_alloc(uint32_t device, uint64_t size) {
  check_device(device);
  device_->activate();
  auto b = std::make_unique<DeviceBuffer>();
  void* p = nullptr;
  FATHOM_CUDA_CHECK(cudaMalloc(&p, std::max<uint64_t>(size, 1)));
  b->ptr = static_cast<std::byte*>(p);
  b->size = size;
  b->device = device_->index();
  return reinterpret_cast<fathom_buffer*>(b.release());
}

void CudaBackend::buffer_free(fathom_buffer* buffer) {
  if (!buffer) return;
  auto* b = reinterpret_cast<DeviceBuffer*>(buffer);
  device_->activate();
  // Work still queued may use it; runs end synchronised, so this only waits in odd cases.
  cudaStreamSynchronize(device_->stream());
  cudaFree(b->ptr);
  delete b;
}

void CudaBackend::buffer_upload(fathom_view dst, const void* src) {
  device_->activate();
  std::byte* d = resolve_view(dst, device_->index());
  if (dst.size == 0) return;
  // On the backend's stream (not the legacy default stream, which our non-blocking stream does
  // not wait for), then wait: the host may reuse `src` as soon as we return.
  FATHOM_CUDA_CHECK(cudaMemcpyAsync(d, src, dst.size, cudaMemcpyHostToDevice, device_->stream()));
  device_->synchronize();
}

void CudaBackend::buffer_download(fathom_view src, void* dst) {
  device_->activate();
  const std::byte* s = resolve_view(src, device_->index());
  if (src.size == 0) return;
  FATHOM_CUDA_CHECK(cudaMemcpyAsync(dst, s, src.size, cudaMemcpyDeviceToHost, device_->stream()));
  device_->synchronize();
}

void CudaBackend::buffer_copy(fathom_view src, fathom_view dst) {
  if (src.size != dst.size) sdk::fail_invalid("buffer_copy: views differ in size");
  device_->activate();
  const std::byte* s = resolve_view(src, device_->index());
  std::byte* d = resolve_view(dst, device_->index());
  if (src.size == 0) return;
  FATHOM_CUDA_CHECK(cudaMemcpyAsync(d, s, src.size, cudaMemcpyDeviceToDevice, device_->stream()));
  device_->synchronize();
}

void CudaBackend::buffer_gather_rows(fathom_view src, fathom_view dst, std::span<const int32_t> ids, uint64_t row_bytes) {
  device_->activate();
  const std::byte* s = resolve_view(src, device_->index());
  std::byte* d = resolve_view(dst, device_->index());
  if (row_bytes == 0 || ids.size() * row_bytes > dst.size) sdk::fail_invalid("gather_rows: destination too small");
  // One copy per run of consecutive ids.
  for (size_t i = 0; i < ids.size();) {
    size_t j = i + 1;
    while (j < ids.size() && ids[j] == ids[j - 1] + 1) ++j;
    if (ids[i] < 0 || (static_cast<uint64_t>(ids[j - 1]) + 1) * row_bytes > src.size)
      sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "gather_rows: a row id is outside the source");
    FATHOM_CUDA_CHECK(cudaMemcpyAsync(d + i * row_bytes, s + static_cast<uint64_t>(ids[i]) * row_bytes, (j - i) * row_bytes,
                                      cudaMemcpyDeviceToDevice, device_->stream()));
    i = j;
  }
  device_->synchronize();
}

fathom_executable* CudaBackend::compile(uint32_t device, const fathom_segment& segment,
                                        std::span<const fathom_binding> bindings) {
  check_device(device);
  device_->activate();
  auto exe = std::make_unique<Executable>(*device_, options_, segment, bindings, resolve_view);
  device_->synchronize();
  return reinterpret_cast<fathom_executable*>(exe.release());
}

void CudaBackend::run(fathom_executable* executable, std::span<const fathom_binding> bindings, int64_t n_tokens) {
  if (!executable) sdk::fail_invalid("run: NULL executable");
  reinterpret_cast<Executable*>(executable)->run(bindings, n_tokens);
}

void* CudaBackend::device_pointer(fathom_buffer* buffer) { return buffer_of(buffer).ptr; }

void CudaBackend::executable_profile(fathom_executable* executable, std::span<fathom_node_profile> out) {
  if (!executable) sdk::fail_invalid("executable_profile: NULL executable");
  reinterpret_cast<const Executable*>(executable)->profile(out);
}

void CudaBackend::executable_destroy(fathom_executable* executable) {
  delete reinterpret_cast<Executable*>(executable);
}

}  // namespace fathom::cuda
