// The CUDA backend: device buffers, segment compilation and runs on one device. Registration
// and dispatch only; the ops live in ops/, the kernels in kernels/.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "fathom/sdk/plugin.hpp"
#include "runtime/device.h"
#include "runtime/options.h"

namespace fathom::cuda {

class CudaBackend final : public sdk::Backend {
 public:
  explicit CudaBackend(const Options& options);
  ~CudaBackend() override;

  uint32_t device_count() override { return 1; }
  void device_info(uint32_t device, fathom_device_info& out) override;
  std::vector<uint32_t> op_kinds() override;
  fathom_op_support query_op(uint32_t device, const fathom_op_desc& op) override;

  fathom_buffer* buffer_alloc(uint32_t device, uint64_t size) override;
  // buffer_import_host: not offered (the SDK default answers UNSUPPORTED), so the host
  // allocates device buffers and uploads the weights once.
  void buffer_free(fathom_buffer* buffer) override;
  void buffer_upload(fathom_view dst, const void* src) override;
  void buffer_download(fathom_view src, void* dst) override;
  void buffer_copy(fathom_view src, fathom_view dst) override;
  void buffer_gather_rows(fathom_view src, fathom_view dst, std::span<const int32_t> ids, uint64_t row_bytes) override;

  fathom_executable* compile(uint32_t device, const fathom_segment& segment,
                             std::span<const fathom_binding> bindings) override;
  void run(fathom_executable* executable, std::span<const fathom_binding> bindings, int64_t n_tokens) override;
  void executable_destroy(fathom_executable* executable) override;
  void executable_profile(fathom_executable* executable, std::span<fathom_node_profile> out) override;

  // The device address of a buffer of this backend, for in-process tools (the benchmark
  // generates weights in device memory with its own kernels).
  static void* device_pointer(fathom_buffer* buffer);

 private:
  void check_device(uint32_t device) const;

  Options options_;
  std::unique_ptr<Device> device_;
};

}  // namespace fathom::cuda
