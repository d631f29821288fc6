// The GPU simulator: the CUDA surface the shared GPU sources use (backends/cuda/{kernels,runtime,
// ops}), implemented on the host, so that a test build of the GPU backend runs its kernels and
// the runtime code around them on a machine without a GPU.
//
// What it is for: finding mistakes in the GPU code before a GPU is at hand — index arithmetic,
// tile and split bookkeeping, reductions at warp width 32 (CUDA) and 64 (AMD), missing
// __syncthreads, launch configurations CUDA would refuse, graph-capture rules, memcpy
// directions, reads of memory nobody wrote. What it is not: a model of timing, of the memory
// model between blocks, of hardware math (rsqrtf and __expf are exact here), or of cuBLAS.
//
// How kernels run: a launch runs its blocks one after another on the calling thread; inside a
// block every GPU thread is a fiber (gpusim/executor.cpp). A fiber runs until it reaches
// __syncthreads() or a warp operation (a shuffle, __syncwarp), then the next fiber runs. Shared
// memory is a function-local `static thread_local`, which every fiber of the block sees.
//
// Included through backends/cuda/vendor/gpu_runtime.h when FATHOM_GPU_SIM is defined, with
// FATHOM_GPUSIM_WARP (32 or 64) giving the warp width.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "vendor/launch_mode.h"  // fathom::gpu::programmatic_launch(), read by FATHOM_LAUNCH

#ifndef FATHOM_GPUSIM_WARP
#error "FATHOM_GPUSIM_WARP (32 or 64) must be defined for the GPU simulator build"
#endif

#define FATHOM_GPU_SIM 1
#if defined(FATHOM_GPUSIM_BLAS)
// The CUDA backend's own file set, cuBLAS and cuBLASLt included (simulated: gpusim/blas.cpp).
#define FATHOM_GPU_CUDA 1
#endif
#define FATHOM_GPU_BACKEND "gpusim"
#define FATHOM_GPU_RUNTIME "GPU simulator"
#define FATHOM_WARP_SIZE FATHOM_GPUSIM_WARP

// ---- Qualifiers: device code is host code.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
// Shared by every fiber of the block, which all run on the launching thread.
#define __shared__ static thread_local

// ---- Vector types and launch geometry.
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };

// ---- Runtime API types.
enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorDevicesUnavailable = 46,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureWrongThread = 908,
};

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
};

enum cudaStreamCaptureMode : int {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};

constexpr unsigned cudaStreamNonBlocking = 1;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor;
  int multiProcessorCount;
  int l2CacheSize;
  int warpSize;
  int maxThreadsPerBlock;
};

namespace fathom::gpusim {
struct Stream;
struct Graph;
struct GraphExec;
struct Event;
}  // namespace fathom::gpusim

using cudaStream_t = fathom::gpusim::Stream*;
using cudaGraph_t = fathom::gpusim::Graph*;
using cudaGraphExec_t = fathom::gpusim::GraphExec*;
using cudaEvent_t = fathom::gpusim::Event*;

// ---- Runtime API (gpusim/runtime.cpp).
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* props, int device);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

namespace fathom::gpusim {

// ---- The executing GPU thread (gpusim/executor.cpp).
struct ThreadState {
  dim3 thread_idx, block_idx, block_dim, grid_dim;
};
const ThreadState& this_thread();
void sync_block();                                 // __syncthreads
void sync_warp();                                  // __syncwarp
void wait_prior_grid();                            // fathom_wait_prior_grid (griddepcontrol.wait)
// __shfl_xor_sync over the whole warp, for values of up to 16 bytes.
void shuffle_xor(const void* value, void* out, size_t bytes, int lane_mask);

// ---- Launches (gpusim/runtime.cpp): checks the configuration as CUDA does, then runs the grid
// now, or records it when the stream is being captured.
// `name` is the kernel as the launch spells it (for the trace and failure messages).
// `programmatic`: launched with PDL (vendor/launch_mode.h); every thread must then call
// fathom_wait_prior_grid() before its first barrier, shuffle or return, or the launch fails.
void launch(const char* name, dim3 grid, dim3 block, cudaStream_t stream, int warp_size, bool programmatic,
            std::function<void()> thread_body);

// Runs `work` in stream order (now, or at replay when the stream is being captured): how the
// simulated libraries (blas.cpp) do their work.
cudaError_t run_on_stream(cudaStream_t stream, std::function<void()> work);

// Forgets a failed launch's sticky error (a GPU process would have to restart). For the
// simulator's own tests, which make launches fail on purpose.
void clear_sticky_error();

template <typename... P>
struct Launcher {
  void (*kernel)(P...);
  const char* name;
  dim3 grid, block;
  cudaStream_t stream;
  int warp_size;

  template <typename... A>
  void operator()(A&&... args) const {
    // Parameters are copied at the launch, as CUDA copies them into the launch (and a graph).
    auto params = std::tuple<std::decay_t<P>...>(std::forward<A>(args)...);
    auto k = kernel;
    launch(name, grid, block, stream, warp_size, ::fathom::gpu::programmatic_launch(),
           [k, params] { std::apply(k, params); });
  }
};

template <typename... P>
Launcher<P...> make_launcher(void (*kernel)(P...), const char* name, dim3 grid, dim3 block, cudaStream_t stream,
                             int warp_size) {
  return Launcher<P...>{kernel, name, grid, block, stream, warp_size};
}

}  // namespace fathom::gpusim

#define FATHOM_LAUNCH(grid, block, stream, ...) \
  ::fathom::gpusim::make_launcher(__VA_ARGS__, #__VA_ARGS__, grid, block, stream, FATHOM_WARP_SIZE)

// ---- Device built-ins.
#define threadIdx (::fathom::gpusim::this_thread().thread_idx)
#define blockIdx (::fathom::gpusim::this_thread().block_idx)
#define blockDim (::fathom::gpusim::this_thread().block_dim)
#define gridDim (::fathom::gpusim::this_thread().grid_dim)

inline void __syncthreads() { ::fathom::gpusim::sync_block(); }
// Blocks run one after another on one host thread: every write is visible to the next block.
inline void __threadfence() {}
// Kernels run one after another here, so there is nothing to wait for; the simulator records
// the call to check the contract of programmatic launches (vendor/launch_mode.h).
inline void fathom_wait_prior_grid() { ::fathom::gpusim::wait_prior_grid(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::fathom::gpusim::sync_warp(); }

// Lane i gets lane (i ^ lane_mask)'s value, after every lane of the warp has given its own.
template <typename T>
T fathom_shfl_xor(T v, int lane_mask) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable_v<T>);
  T r;
  ::fathom::gpusim::shuffle_xor(&v, &r, sizeof v, lane_mask);
  return r;
}

// Atomics: the fibers of a launch take turns on one host thread, so a plain read-modify-write
// is atomic. Each returns the old value, as CUDA's do.
template <typename T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <typename T>
T atomicMax(T* p, T v) {
  const T old = *p;
  if (old < v) *p = v;
  return old;
}
template <typename T>
T atomicCAS(T* p, T expected, T desired) {
  const T old = *p;
  if (old == expected) *p = desired;
  return old;
}
template <typename T>
T atomicExch(T* p, T v) {
  const T old = *p;
  *p = v;
  return old;
}

template <typename T>
T __ldg(const T* p) {
  return *p;
}

inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
