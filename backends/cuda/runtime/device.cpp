#include "runtime/device.h"

#include "kernels/prior_grid_wait.cuh"
#include "runtime/check.h"

namespace fathom::cuda {

Device::Device(int index) : index_(index) {
  FATHOM_CUDA_CHECK(cudaSetDevice(index));
  FATHOM_CUDA_CHECK(cudaGetDeviceProperties(&props_, index));
  programmatic_launch_ok_ = props_.major >= 9 && gpu::device_code_waits_for_prior_grid();
  // Non-blocking: the legacy default stream must not serialise us with other libraries' work.
  FATHOM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
#if FATHOM_GPU_CUDA
  try {
    blas_ = std::make_unique<BlasContext>(props_, stream_);
    fp8_gemm_ = std::make_unique<Fp8BlockScaledGemm>(*blas_);
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
#endif
}

Device::~Device() {
  cudaSetDevice(index_);
  cudaStreamSynchronize(stream_);
#if FATHOM_GPU_CUDA
  fp8_gemm_.reset();
  blas_.reset();
#endif
  cudaStreamDestroy(stream_);
}

void Device::activate() const { FATHOM_CUDA_CHECK(cudaSetDevice(index_)); }

void Device::synchronize() const { FATHOM_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

std::string Device::description() const {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
#if FATHOM_GPU_HIP
  // HIP versions are major * 10'000'000 + minor * 100'000 + patch; no BLAS to describe.
  auto hip_version = [](int v) { return std::to_string(v / 10000000) + "." + std::to_string((v / 100000) % 100); };
  return std::string(props_.gcnArchName) + ", " + std::to_string(props_.multiProcessorCount) + " CUs, wavefront " +
         std::to_string(props_.warpSize) + ", driver " + hip_version(driver) + ", runtime " + hip_version(runtime) +
         "; FP8 weights held as bf16";
#elif FATHOM_GPU_SIM
  return std::string(props_.name) + ": the kernels run on the host, one fiber per GPU thread (tests only)";
#else
  auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); };
  return "compute capability " + std::to_string(props_.major) + "." + std::to_string(props_.minor) + ", " +
         std::to_string(props_.multiProcessorCount) + " SMs, " + std::to_string(props_.l2CacheSize >> 20) +
         " MiB L2, driver " + version(driver) + ", runtime " + version(runtime) + "; " + blas_->fp8_block_scaling_note();
#endif
}

}  // namespace fathom::cuda
