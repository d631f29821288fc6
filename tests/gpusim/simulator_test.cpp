// The GPU simulator's own tests, built once per warp width (gpusim_tests_w32, _w64):
//   - that it finds what it claims to find (README.md): a missing barrier, warp operations a GPU
//     cannot complete, launch configurations CUDA refuses, graph-capture rules, copies with the
//     wrong kind of pointer, reads of unwritten memory;
//   - and fp8_quant.cu, the per-token 1x128 activation quantisation in front of cuBLASLt, at
//     both warp widths, against the layout and formula of docs/reference/cublaslt-fp8-blockscale.md,
//     computed here with the reference codec.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "fathom/sdk/float_formats.hpp"
#include "gpusim/executor.h"
#include "kernels/common.cuh"
#include "kernels/fp8_quant.cuh"
#include "kernels/moe_dispatch.cuh"

namespace fathom::gpusim {
namespace {

constexpr int W = FATHOM_WARP_SIZE;

// ---- Kernels under test.

// out[i] = the sum over the warp of lane values i + 1: a warp_sum at this width.
__global__ void warp_sum_kernel(float* out) {
  out[threadIdx.x] = gpu::warp_sum(static_cast<float>(threadIdx.x % W + 1));
}

// Each thread writes its slot, then reads its lower neighbour's. With the barrier the neighbour
// has always written; without it, the order the threads happen to run in decides.
template <bool kBarrier>
__global__ void neighbour_kernel(int* out, int salt) {
  __shared__ int slots[256];
  const int t = static_cast<int>(threadIdx.x);
  slots[t] = t + salt;
  if constexpr (kBarrier) __syncthreads();
  out[t] = slots[t > 0 ? t - 1 : 0];
}

// Thread 0 waits at __syncthreads while its warp's other lanes shuffle: no GPU completes this.
__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    out[threadIdx.x] = fathom_shfl_xor(1.f, 1);
  }
}

// The upper half of the block returns, then everyone left shuffles across the whole warp.
__global__ void shuffle_after_return_kernel(float* out) {
  if (threadIdx.x >= W / 2) return;
  out[threadIdx.x] = gpu::warp_sum(1.f);
}

__global__ void copy_kernel(const float* in, float* out) { out[threadIdx.x] = in[threadIdx.x]; }

// copy_kernel as the shared sources write kernels: the grid-dependency wait first.
__global__ void waiting_copy_kernel(const float* in, float* out) {
  fathom_wait_prior_grid();
  out[threadIdx.x] = in[threadIdx.x];
}

// Thread 3 reads one element past the end of `in` (n elements).
__global__ void read_past_end_kernel(const float* in, float* out, int n) {
  out[threadIdx.x] = in[threadIdx.x == 3 ? n : 0];
}

// A shared tile of 64 entries indexed by a block of `threads` threads.
__global__ void shared_tile_kernel(int* out) {
  __shared__ int tile[64];
  tile[threadIdx.x] = static_cast<int>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = tile[threadIdx.x];
}

// ---- Helpers.

template <typename T>
T* device_array(size_t n) {
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess);
  return static_cast<T*>(p);
}

template <typename T>
std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> h(n);
  EXPECT_EQ(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return h;
}

class Simulator : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess); }
  void TearDown() override {
    set_reverse_order(false);
    clear_sticky_error();  // a test that made a launch fail must not fail the next
    for (void* p : allocations_) cudaFree(p);
    cudaStreamDestroy(stream_);
  }
  template <typename T>
  T* alloc(size_t n) {
    T* p = device_array<T>(n);
    allocations_.push_back(p);
    return p;
  }
  cudaStream_t stream_ = nullptr;
  std::vector<void*> allocations_;
};

TEST_F(Simulator, WarpSumAddsEveryLaneAtThisWidth) {
  float* out = alloc<float>(256);
  FATHOM_LAUNCH(1, 256, stream_, warp_sum_kernel)(out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (float v : to_host(out, 256)) EXPECT_EQ(v, W * (W + 1) / 2.f);
}

TEST_F(Simulator, AMissingBarrierShowsInOneOfTheTwoOrders) {
  int* out = alloc<int>(256);
  int salt = 0;
  // Returns whether every thread read what its neighbour wrote in this launch.
  auto run = [&](bool reverse, bool barrier) {
    set_reverse_order(reverse);
    salt += 1000;  // each launch writes new values: last launch's leftovers do not pass
    if (barrier) {
      FATHOM_LAUNCH(1, 256, stream_, neighbour_kernel<true>)(out, salt);
    } else {
      FATHOM_LAUNCH(1, 256, stream_, neighbour_kernel<false>)(out, salt);
    }
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<int> got = to_host(out, 256);
    for (int t = 0; t < 256; ++t) {
      if (got[t] != (t > 0 ? t - 1 : 0) + salt) return false;
    }
    return true;
  };
  EXPECT_TRUE(run(false, true));
  EXPECT_TRUE(run(true, true));
  // Forward order happens to work (the neighbour ran first); reverse order reads stale slots.
  EXPECT_TRUE(run(false, false));
  EXPECT_FALSE(run(true, false));
}

TEST_F(Simulator, ABarrierAgainstAWarpOperationFailsTheLaunch) {
  float* out = alloc<float>(W);
  FATHOM_LAUNCH(1, W, stream_, divergent_barrier_kernel)(out);
  const cudaError_t e = cudaStreamSynchronize(stream_);
  EXPECT_EQ(e, cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("waits at a warp operation"), std::string::npos)
      << cudaGetErrorString(e);
  // Sticky, as on a GPU: every later call reports it.
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
}

TEST_F(Simulator, AShuffleAfterLanesReturnedFailsTheLaunch) {
  float* out = alloc<float>(W);
  FATHOM_LAUNCH(1, W, stream_, shuffle_after_return_kernel)(out);
  const cudaError_t e = cudaStreamSynchronize(stream_);
  EXPECT_EQ(e, cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("lanes of the warp have returned"), std::string::npos)
      << cudaGetErrorString(e);
}

TEST_F(Simulator, ABlockOfMoreThan1024ThreadsIsRefused) {
  float* out = alloc<float>(2048);
  FATHOM_LAUNCH(1, 2048, stream_, warp_sum_kernel)(out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // not sticky
  FATHOM_LAUNCH(0, 64, stream_, warp_sum_kernel)(out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
}

// Launched programmatically (PDL), a kernel may start while the one before it still runs; only
// its fathom_wait_prior_grid() orders it. The simulator fails a programmatic launch of a kernel
// whose threads go on without that wait, and runs the same kernel launched normally.
TEST_F(Simulator, AProgrammaticLaunchFailsAKernelThatDoesNotWaitForThePriorGrid) {
  float* in = alloc<float>(64);
  float* out = alloc<float>(64);
  ASSERT_EQ(cudaMemsetAsync(in, 0, 64 * sizeof(float), stream_), cudaSuccess);
  FATHOM_LAUNCH(1, 64, stream_, copy_kernel)(in, out);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  {
    const gpu::ProgrammaticLaunchScope programmatic(true);
    FATHOM_LAUNCH(1, 64, stream_, waiting_copy_kernel)(in, out);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    FATHOM_LAUNCH(1, 64, stream_, copy_kernel)(in, out);
  }
  EXPECT_FALSE(gpu::programmatic_launch());  // the scope restored the switch
  const cudaError_t e = cudaStreamSynchronize(stream_);
  EXPECT_EQ(e, cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("without calling fathom_wait_prior_grid() first"), std::string::npos)
      << cudaGetErrorString(e);
}

TEST_F(Simulator, CaptureRecordsLaunchesAndReplaysThemWithTheirArguments) {
  float* in = alloc<float>(64);
  float* out = alloc<float>(64);
  std::vector<float> host(64);
  for (int i = 0; i < 64; ++i) host[i] = static_cast<float>(i);
  ASSERT_EQ(cudaMemcpy(in, host.data(), sizeof(float) * 64, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  FATHOM_LAUNCH(1, 64, stream_, copy_kernel)(in, out);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  // Nothing ran during the capture: out still holds the fill of new memory (NaN).
  EXPECT_TRUE(std::isnan(to_host(out, 64)[5]));
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream_), cudaSuccess);
  EXPECT_EQ(to_host(out, 64), host);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

TEST_F(Simulator, AllocatingDuringCaptureInvalidatesIt) {
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorStreamCaptureUnsupported);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  cudaGetLastError();
}

TEST_F(Simulator, ACapturedCopyNeedsPinnedHostMemory) {
  float* d = alloc<float>(16);
  std::vector<float> pageable(16);
  float* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), 16 * sizeof(float)), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(pinned, d, 64, cudaMemcpyDeviceToHost, stream_), cudaSuccess);
  EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  cudaGraphDestroy(graph);

  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(pageable.data(), d, 64, cudaMemcpyDeviceToHost, stream_), cudaErrorInvalidValue);
  EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaErrorStreamCaptureInvalidated);
  cudaFreeHost(pinned);
  cudaGetLastError();
}

TEST_F(Simulator, CopiesCheckWhichSideIsDeviceMemory) {
  float* d = alloc<float>(16);
  std::vector<float> h(16);
  EXPECT_EQ(cudaMemcpy(d, h.data(), 64, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(h.data(), d, 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);  // swapped
  EXPECT_EQ(cudaMemcpy(d, h.data(), 128, cudaMemcpyHostToDevice), cudaErrorInvalidValue);  // past the end
  EXPECT_EQ(cudaMemsetAsync(h.data(), 0, 64, stream_), cudaErrorInvalidValue);
  cudaGetLastError();
}

// 64 floats fill the allocation's 256 bytes exactly: element 64 is in the guard page.
TEST_F(Simulator, AKernelReadingPastABufferEndDiesNamingTheBufferAndTheThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float* in = alloc<float>(64);
  float* out = alloc<float>(64);
  EXPECT_DEATH(
      {
        FATHOM_LAUNCH(1, 64, stream_, read_past_end_kernel)(in, out, 64);
        cudaStreamSynchronize(stream_);
      },
      "accessed byte 256 of a device allocation of 256 bytes \\(past its end\\), in block \\(0,0,0\\) thread \\(3,0,0\\)");
  // Inside the allocation nothing faults.
  FATHOM_LAUNCH(1, 64, stream_, read_past_end_kernel)(in, out, 63);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
}

// The plugins and these tests are built with -fsanitize=bounds: an index past a shared tile (or
// any array of known size) stops the process, naming the file and line.
TEST_F(Simulator, AnIndexPastASharedTileDiesNamingTheLine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  int* out = alloc<int>(128);
  FATHOM_LAUNCH(1, 64, stream_, shared_tile_kernel)(out);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_DEATH(FATHOM_LAUNCH(1, 128, stream_, shared_tile_kernel)(out), "simulator_test.cpp:[0-9]+:[0-9]+: runtime error: index 64 out of bounds");
}

// ---- fp8_quant.cu against the layout and formula of the cuBLASLt note.

TEST_F(Simulator, Fp8QuantWritesTokenContiguousScalesAndE4m3Codes) {
  const int64_t rows = 5, padded = 8, k = 300, groups = 3;  // the last group is partial (44)
  std::mt19937 rng(7);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      // Magnitudes that differ per row and group, so a transposed scale grid gives wrong codes.
      const float magnitude = std::ldexp(1.f, static_cast<int>((r * 3 + c / 128) % 11) - 5);
      x[r * k + c] = std::uniform_real_distribution<float>(-1.f, 1.f)(rng) * magnitude;
    }
  }
  for (int64_t c = 128; c < 256; ++c) x[2 * k + c] = 0.f;  // an all-zero group: scale 1

  float* dx = alloc<float>(x.size());
  uint8_t* dq = alloc<uint8_t>(static_cast<size_t>(padded * k));
  float* ds = alloc<float>(static_cast<size_t>(groups * padded));
  ASSERT_EQ(cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  gpu::launch_fp8_quant({dx, k, rows, padded, k, dq, ds}, stream_);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<uint8_t> q = to_host(dq, static_cast<size_t>(padded * k));
  const std::vector<float> scales = to_host(ds, static_cast<size_t>(groups * padded));

  for (int64_t r = 0; r < padded; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      float amax = 0.f;
      for (int64_t c = g * 128; c < std::min(k, (g + 1) * 128); ++c) amax = std::max(amax, r < rows ? std::fabs(x[r * k + c]) : 0.f);
      const float scale = amax > 0.f ? amax / 448.f : 1.f;
      ASSERT_EQ(scales[g * padded + r], scale) << "scale of row " << r << ", group " << g << " (layout [group][padded row])";
      for (int64_t c = g * 128; c < std::min(k, (g + 1) * 128); ++c) {
        const float v = r < rows ? x[r * k + c] : 0.f;
        const uint8_t code = sdk::floats::f32_to_e4m3fn(v / scale, true);
        ASSERT_EQ(q[r * k + c], code) << "row " << r << ", column " << c;
        // value = code * scale, within e4m3's half-ulp (2^-4 relative) or its subnormal step.
        EXPECT_NEAR(sdk::floats::e4m3fn_to_f32(code) * scale, v, std::fabs(v) / 16 + scale * std::ldexp(1.f, -10));
      }
    }
  }
}

// The grouped products launch a row of blocks per entry of the dispatch's list of groups with
// pairs, so the list must hold exactly those groups and then -1s: a stale entry left in the
// workspace by another op would send a row of blocks to a group's table entry that it has not.
// Both paths: the one-block kernel (with shared groups too) and the count/offsets/scatter kernels.
TEST_F(Simulator, MoeDispatchListsTheGroupsWithPairsThenMinusOnes) {
  struct Case {
    int64_t tokens;
    int32_t top_k, experts, shared;
  };
  for (const Case c : {Case{1, 6, 64, 2}, Case{3, 6, 300, 0}, Case{800, 3, 40, 0}}) {
    SCOPED_TRACE("tokens " + std::to_string(c.tokens) + ", experts " + std::to_string(c.experts));
    const int64_t pairs = c.tokens * c.top_k, all_pairs = c.tokens * (c.top_k + c.shared);
    const int32_t groups = c.experts + c.shared;
    const int32_t list = gpu::moe_active_groups_max(c.tokens, c.top_k, c.experts, c.shared);
    // Token t's choices: a spread that leaves experts unchosen and one id out of range, dropped.
    std::vector<int32_t> ids(static_cast<size_t>(pairs));
    for (int64_t p = 0; p < pairs; ++p) ids[p] = static_cast<int32_t>((p * 7 + p / c.top_k) % (c.experts - 3) + 2);
    ids[0] = c.experts;  // out of range: reported and dropped
    std::vector<float> route_weights(static_cast<size_t>(pairs), 0.5f);
    std::vector<int32_t> stale(static_cast<size_t>(list), 1);  // a valid id, unchosen, in every entry

    int32_t* d_ids = alloc<int32_t>(ids.size());
    float* d_route = alloc<float>(route_weights.size());
    int32_t* counts = alloc<int32_t>(static_cast<size_t>(groups));
    int32_t* offsets = alloc<int32_t>(static_cast<size_t>(groups));
    int32_t* slot = alloc<int32_t>(static_cast<size_t>(pairs));
    int32_t* pair_ids = alloc<int32_t>(static_cast<size_t>(all_pairs));
    float* pair_weights = alloc<float>(static_cast<size_t>(all_pairs));
    int32_t* active = alloc<int32_t>(static_cast<size_t>(list));
    int* error = alloc<int>(1);
    ASSERT_EQ(cudaMemcpy(d_ids, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(d_route, route_weights.data(), route_weights.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(active, stale.data(), stale.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    const std::vector<int32_t> zeros(static_cast<size_t>(groups), 0);
    ASSERT_EQ(cudaMemcpy(counts, zeros.data(), zeros.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(error, zeros.data(), 4, cudaMemcpyHostToDevice), cudaSuccess);

    gpu::MoeDispatchArgs a{d_ids, c.tokens, c.top_k, c.experts, counts, offsets, slot, pair_ids, error};
    a.shared_groups = c.shared;
    a.route_weights = d_route;
    a.pair_weights = pair_weights;
    a.active_groups = active;
    ASSERT_EQ(gpu::moe_dispatch_in_one_block(pairs, groups), c.tokens < 800);
    gpu::launch_moe_dispatch(a, stream_);
    ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);

    std::vector<int32_t> expected;
    for (int32_t e = 0; e < c.experts; ++e) {
      if (std::count(ids.begin() + 1, ids.end(), e) > 0) expected.push_back(e);
    }
    for (int32_t s = 0; s < c.shared; ++s) expected.push_back(c.experts + s);
    ASSERT_LE(static_cast<int32_t>(expected.size()), list);
    expected.resize(static_cast<size_t>(list), -1);
    EXPECT_EQ(to_host(active, static_cast<size_t>(list)), expected);
    const std::vector<int32_t> host_counts = to_host(counts, static_cast<size_t>(groups));
    for (int32_t g = 0; g < groups; ++g) {
      const bool listed = std::find(expected.begin(), expected.end(), g) != expected.end();
      EXPECT_EQ(host_counts[g] > 0, listed) << "group " << g;
    }
  }
}

}  // namespace
}  // namespace fathom::gpusim
