#include "runtime/device.h"

#include "runtime/check.h"

namespace fathom::cuda {

Device::Device(int index) : index_(index) {
  FATHOM_CUDA_CHECK(cudaSetDevice(index));
  FATHOM_CUDA_CHECK(cudaGetDeviceProperties(&props_, index));
  // Non-blocking: the legacy default stream must not serialise us with other libraries' work.
  FATHOM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  try {
    blas_ = std::make_unique<BlasContext>(props_, stream_);
    fp8_gemm_ = std::make_unique<Fp8BlockScaledGemm>(*blas_);
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
}

Device::~Device() {
  cudaSetDevice(index_);
  cudaStreamSynchronize(stream_);
  fp8_gemm_.reset();
  blas_.reset();
  cudaStreamDestroy(stream_);
}

void Device::activate() const { FATHOM_CUDA_CHECK(cudaSetDevice(index_)); }

void Device::synchronize() const { FATHOM_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

std::string Device::description() const {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); };
  return "compute capability " + std::to_string(props_.major) + "." + std::to_string(props_.minor) + ", " +
         std::to_string(props_.multiProcessorCount) + " SMs, " + std::to_string(props_.l2CacheSize >> 20) +
         " MiB L2, driver " + version(driver) + ", runtime " + version(runtime) + "; " + blas_->fp8_block_scaling_note();
}

}  // namespace fathom::cuda
