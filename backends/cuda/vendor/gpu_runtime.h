// The one place where CUDA and HIP differ for the shared sources (kernels/, runtime/, ops/).
//
// The code is written against the CUDA runtime API. Under hipcc (__HIP_PLATFORM_AMD__) the names
// it uses are mapped onto their HIP equivalents here, so that the HIP backend compiles the same
// files. Everything vendor-specific beyond this list stays out of the shared sources: cuBLAS and
// cuBLASLt live in blas/, which only the CUDA plugin builds (HIP on Debian has no hipBLAS).
//
// Warps: CUDA warps have 32 lanes, AMD wavefronts 64 (CDNA) or 32 (RDNA). Kernels take the width
// from FATHOM_WARP_SIZE and shuffle through fathom_shfl_xor(), never with a hard-coded 32 or
// mask. Block sizes are multiples of 64 so that they are whole warps on every vendor.
//
// Launches: the shared sources spell every kernel launch FATHOM_LAUNCH(grid, block, stream,
// kernel)(args...). Under hipcc that is `kernel<<<grid, block, 0, stream>>>(args...)`; under
// nvcc it is cudaLaunchKernelEx, programmatic (PDL) inside a ProgrammaticLaunchScope
// (vendor/launch_mode.h). Every kernel begins with fathom_wait_prior_grid(), which makes that
// safe. The one other expansion is the GPU simulator's (tests/gpusim, FATHOM_GPU_SIM): a test
// build that runs these very kernels on the host, one fiber per GPU thread, so that the kernels
// and the runtime code around them are exercised on machines without a GPU.
#pragma once

#include "vendor/gpu_compat.h"
#include "vendor/launch_mode.h"

#if defined(FATHOM_GPU_SIM)

#include "gpusim/runtime.h"  // defines FATHOM_GPU_BACKEND, FATHOM_WARP_SIZE, FATHOM_LAUNCH, ...

#elif defined(__HIP_PLATFORM_AMD__)

#include <hip/hip_runtime.h>

#define FATHOM_GPU_HIP 1
#define FATHOM_GPU_BACKEND "hip"  // the plugin's name and the runtime's, for messages of the shared sources
#define FATHOM_GPU_RUNTIME "HIP"
#if defined(__AMDGCN_WAVEFRONT_SIZE)
#define FATHOM_WARP_SIZE __AMDGCN_WAVEFRONT_SIZE
#else
#define FATHOM_WARP_SIZE 64
#endif

// Runtime API: the subset the shared sources use.
#define cudaError_t hipError_t
#define cudaSuccess hipSuccess
#define cudaErrorNoDevice hipErrorNoDevice
#define cudaErrorInsufficientDriver hipErrorInsufficientDriver
#define cudaErrorMemoryAllocation hipErrorOutOfMemory
#define cudaGetErrorName hipGetErrorName
#define cudaGetErrorString hipGetErrorString
#define cudaGetLastError hipGetLastError
#define cudaPeekAtLastError hipPeekAtLastError
#define cudaGetDeviceCount hipGetDeviceCount
#define cudaGetDevice hipGetDevice
#define cudaSetDevice hipSetDevice
#define cudaDeviceProp hipDeviceProp_t
#define cudaGetDeviceProperties hipGetDeviceProperties
#define cudaMemGetInfo hipMemGetInfo
#define cudaDriverGetVersion hipDriverGetVersion
#define cudaRuntimeGetVersion hipRuntimeGetVersion
#define cudaStream_t hipStream_t
#define cudaStreamCreateWithFlags hipStreamCreateWithFlags
#define cudaStreamNonBlocking hipStreamNonBlocking
#define cudaStreamDestroy hipStreamDestroy
#define cudaStreamSynchronize hipStreamSynchronize
#define cudaMalloc hipMalloc
#define cudaFree hipFree
#define cudaMallocHost hipHostMalloc
#define cudaFreeHost hipHostFree
#define cudaMemcpy hipMemcpy
#define cudaMemcpyAsync hipMemcpyAsync
#define cudaMemcpy2DAsync hipMemcpy2DAsync
#define cudaMemsetAsync hipMemsetAsync
#define cudaMemcpyHostToDevice hipMemcpyHostToDevice
#define cudaMemcpyDeviceToHost hipMemcpyDeviceToHost
#define cudaMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define cudaGraph_t hipGraph_t
#define cudaGraphExec_t hipGraphExec_t
#define cudaStreamBeginCapture hipStreamBeginCapture
#define cudaStreamEndCapture hipStreamEndCapture
#define cudaStreamCaptureModeThreadLocal hipStreamCaptureModeThreadLocal
#define cudaGraphInstantiate(exec, graph, flags) hipGraphInstantiate(exec, graph, nullptr, nullptr, 0)
#define cudaGraphLaunch hipGraphLaunch
#define cudaGraphDestroy hipGraphDestroy
#define cudaGraphExecDestroy hipGraphExecDestroy
#define cudaEvent_t hipEvent_t
#define cudaEventCreate hipEventCreate
#define cudaEventDestroy hipEventDestroy
#define cudaEventRecord hipEventRecord
#define cudaEventSynchronize hipEventSynchronize
#define cudaEventElapsedTime hipEventElapsedTime

#define FATHOM_LAUNCH(grid, block, stream, ...) __VA_ARGS__<<<grid, block, 0, stream>>>

#if defined(__HIPCC__)
// HIP's shuffles take no mask: a wavefront executes in lockstep.
template <typename T>
__device__ __forceinline__ T fathom_shfl_xor(T v, int lane_mask) {
  return __shfl_xor(v, lane_mask);
}

// HIP launches are never programmatic: there is no earlier grid to wait for.
__device__ __forceinline__ void fathom_wait_prior_grid() {}
#endif

#else  // CUDA

#include <cuda_runtime.h>

#include <utility>

#define FATHOM_GPU_CUDA 1
#define FATHOM_GPU_BACKEND "cuda"
#define FATHOM_GPU_RUNTIME "CUDA"
#define FATHOM_WARP_SIZE 32

namespace fathom::gpu {

// One kernel launch through cudaLaunchKernelEx, with the programmatic-serialisation attribute
// when programmatic_launch() is on. Launch errors land in cudaGetLastError as with <<< >>>.
template <typename... P>
struct KernelLaunch {
  void (*kernel)(P...);
  dim3 grid, block;
  cudaStream_t stream;

  template <typename... A>
  void operator()(A&&... args) const {
    cudaLaunchAttribute attribute{};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = 0;
    config.stream = stream;
    config.attrs = &attribute;
    config.numAttrs = programmatic_launch() ? 1 : 0;
    (void)cudaLaunchKernelEx(&config, kernel, std::forward<A>(args)...);
  }
};

template <typename... P>
KernelLaunch<P...> make_kernel_launch(void (*kernel)(P...), dim3 grid, dim3 block, cudaStream_t stream) {
  return KernelLaunch<P...>{kernel, grid, block, stream};
}

}  // namespace fathom::gpu

#define FATHOM_LAUNCH(grid, block, stream, ...) ::fathom::gpu::make_kernel_launch(__VA_ARGS__, grid, block, stream)

#if defined(__CUDACC__)
template <typename T>
__device__ __forceinline__ T fathom_shfl_xor(T v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}

// Every kernel's first statement (vendor/launch_mode.h). Launched programmatically, it waits
// until the kernel before it in the stream has finished and its writes are visible, then lets
// the kernel after it begin launching (its blocks in turn wait here). Launched normally, both
// return at once. Before compute capability 9.0 there is no PDL and nothing to do.
__device__ __forceinline__ void fathom_wait_prior_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
#endif

#endif
