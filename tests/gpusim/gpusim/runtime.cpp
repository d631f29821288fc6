// The simulator's runtime API: device memory, streams, graph capture, events and errors, with
// CUDA's rules where breaking them is a bug the GPU would show:
//   - copies and memsets are checked against the allocations (a host pointer passed as device
//     memory, or the wrong direction, is cudaErrorInvalidValue);
//   - while a thread captures a stream (cudaStreamCaptureModeThreadLocal, the mode Fathom uses),
//     allocating, freeing and synchronising are refused with cudaErrorStreamCaptureUnsupported
//     and invalidate the capture; a captured copy must use pinned host memory;
//   - a launch configuration CUDA refuses is cudaErrorInvalidConfiguration;
//   - a kernel that cannot finish (see executor.cpp) is a sticky cudaErrorLaunchFailure, as a
//     faulting kernel is on a GPU: every later call returns it.
// Device memory (device_memory.cpp) is filled with 0xFF bytes when allocated (NaN in every float
// format, -1 in integers), so a kernel that reads what nobody wrote gives NaN instead of a lucky
// zero, and ends at a guard page, so one that runs past a buffer's end faults.
// Streams run their work at once, in order; a captured stream records it instead.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gpusim/device_memory.h"
#include "gpusim/executor.h"
#include "gpusim/runtime.h"

namespace fathom::gpusim {

using Op = std::function<void()>;

struct Stream {
  bool capturing = false;
  std::thread::id capture_thread;
  std::string invalidated;  // why the capture is invalid, if it is
  std::vector<Op> captured;
};
struct Graph {
  std::vector<Op> ops;
};
struct GraphExec {
  std::vector<Op> ops;
};
struct Event {
  std::chrono::steady_clock::time_point at;
};

namespace {

constexpr size_t kDeviceMemory = size_t{16} << 30;  // what cudaMemGetInfo reports as the total
constexpr size_t kAlignment = kDeviceAlignment;

struct State {
  std::mutex mutex;
  std::map<uintptr_t, size_t> pinned;  // start -> bytes
  cudaError_t sticky = cudaSuccess;
  std::string sticky_message;
};

State& state() {
  static State s;
  return s;
}

thread_local cudaError_t t_last = cudaSuccess;
thread_local std::string t_message;      // the detailed text of the last error on this thread,
thread_local cudaError_t t_message_code = cudaSuccess;  // and its code
thread_local Stream* t_capturing = nullptr;  // the stream this thread captures, if any
Stream g_default_stream;

cudaError_t fail(cudaError_t e, std::string message) {
  t_last = e;
  t_message = std::move(message);
  t_message_code = e;
  return e;
}

cudaError_t sticky_error() {
  std::lock_guard lock(state().mutex);
  if (state().sticky != cudaSuccess) {
    t_message = state().sticky_message;
    t_message_code = state().sticky;
  }
  return state().sticky;
}

bool inside(const std::map<uintptr_t, size_t>& ranges, const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = ranges.upper_bound(a);
  if (it == ranges.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

bool is_pinned(const void* p, size_t bytes) {
  std::lock_guard lock(state().mutex);
  return inside(state().pinned, p, bytes);
}

// A call CUDA refuses while this thread captures a stream: it invalidates that capture.
cudaError_t refuse_during_capture(const char* call) {
  if (!t_capturing) return cudaSuccess;
  const std::string why = std::string(call) + " while the stream is being captured";
  if (t_capturing->invalidated.empty()) t_capturing->invalidated = why;
  return fail(cudaErrorStreamCaptureUnsupported, why);
}

Stream* resolve(cudaStream_t s) { return s ? s : &g_default_stream; }

// Runs `op` now, or records it when the stream is being captured.
cudaError_t enqueue(cudaStream_t s, Op op) {
  if (const cudaError_t e = sticky_error()) return e;
  Stream* stream = resolve(s);
  if (stream->capturing) {
    stream->captured.push_back(std::move(op));
  } else {
    op();
  }
  return sticky_error();
}

const char* kind_name(cudaMemcpyKind k) {
  switch (k) {
    case cudaMemcpyHostToHost: return "HostToHost";
    case cudaMemcpyHostToDevice: return "HostToDevice";
    case cudaMemcpyDeviceToHost: return "DeviceToHost";
    case cudaMemcpyDeviceToDevice: return "DeviceToDevice";
  }
  return "?";
}

// The pointer checks of a copy: each side is device memory exactly when the kind says so.
cudaError_t check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, bool captured) {
  if (bytes == 0) return cudaSuccess;
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  auto side = [&](const void* p, bool device, const char* which) -> std::string {
    if (device && !device_contains(p, bytes))
      return std::string(which) + " of a " + kind_name(kind) + " copy of " + std::to_string(bytes) +
             " bytes is not inside a device allocation";
    if (!device && device_contains(p, bytes))
      return std::string(which) + " of a " + kind_name(kind) + " copy is device memory";
    if (!device && captured && !is_pinned(p, bytes))
      return std::string(which) + " of a captured " + kind_name(kind) + " copy is pageable host memory";
    return "";
  };
  std::string why = side(dst, dst_device, "the destination");
  if (why.empty()) why = side(src, src_device, "the source");
  if (why.empty()) return cudaSuccess;
  return fail(cudaErrorInvalidValue, why);
}

// FATHOM_GPUSIM_TRACE=1: one line per kernel run on stderr (geometry, time, failure), and per
// asynchronous copy or memset when it runs.
bool trace() {
  static const bool on = std::getenv("FATHOM_GPUSIM_TRACE") != nullptr;
  return on;
}

std::string dims(dim3 d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; }

}  // namespace

void launch(const char* name, dim3 grid, dim3 block, cudaStream_t stream, int warp_size, bool programmatic,
            std::function<void()> thread_body) {
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535 ||
      block.x == 0 || block.y == 0 || block.z == 0 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
      threads > 1024) {
    fail(cudaErrorInvalidConfiguration, std::string("launch of ") + name + " with grid " + dims(grid) + " and block " + dims(block));
    return;
  }
  const cudaError_t e = enqueue(stream, [=] {
    const auto start = std::chrono::steady_clock::now();
    const std::string why = run_grid(grid, block, warp_size, programmatic, thread_body);
    if (trace())
      std::fprintf(stderr, "gpusim: %s grid %s block %s%s: %.3f ms%s%s\n", name, dims(grid).c_str(), dims(block).c_str(),
                   programmatic ? " (programmatic)" : "",
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
                   why.empty() ? "" : ", failed: ", why.c_str());
    if (why.empty()) return;
    std::lock_guard lock(state().mutex);
    if (state().sticky == cudaSuccess) {
      state().sticky = cudaErrorLaunchFailure;
      state().sticky_message = std::string("kernel ") + name + " with grid " + dims(grid) + " and block " + dims(block) + ": " + why;
    }
  });
  if (e != cudaSuccess) t_last = e;
}

cudaError_t run_on_stream(cudaStream_t stream, std::function<void()> work) { return enqueue(stream, std::move(work)); }

void clear_sticky_error() {
  std::lock_guard lock(state().mutex);
  state().sticky = cudaSuccess;
  state().sticky_message.clear();
}

}  // namespace fathom::gpusim

using namespace fathom::gpusim;

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorDevicesUnavailable: return "cudaErrorDevicesUnavailable";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
  }
  return "cudaErrorUnknown";
}

// The simulator's description of the error this thread saw last: what broke, and where.
const char* cudaGetErrorString(cudaError_t e) {
  thread_local std::string text;
  text = e == t_message_code && !t_message.empty() ? "simulator: " + t_message : std::string(cudaGetErrorName(e));
  return text.c_str();
}

cudaError_t cudaGetLastError() {
  if (const cudaError_t e = sticky_error()) return e;
  return std::exchange(t_last, cudaSuccess);
}

cudaError_t cudaPeekAtLastError() {
  if (const cudaError_t e = sticky_error()) return e;
  return t_last;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice, "device " + std::to_string(device));
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice, "device " + std::to_string(device));
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "GPU simulator (warp %d)", FATHOM_GPUSIM_WARP);
  p->totalGlobalMem = kDeviceMemory;
  p->major = 9;
  p->minor = 0;
  // Small by default, so that split decisions take their many-blocks branches in tests;
  // FATHOM_GPUSIM_SMS sets another count (132 for an H200, to see the launches it would get).
  p->multiProcessorCount = 8;
  if (const char* sms = std::getenv("FATHOM_GPUSIM_SMS"); sms && std::atoi(sms) > 0) p->multiProcessorCount = std::atoi(sms);
  p->l2CacheSize = 4 << 20;
  p->warpSize = FATHOM_GPUSIM_WARP;
  p->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *total_bytes = kDeviceMemory;
  *free_bytes = kDeviceMemory - std::min(kDeviceMemory, device_bytes_in_use());
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new Stream;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream && stream->capturing) return fail(cudaErrorStreamCaptureUnsupported, "cudaStreamDestroy of a capturing stream");
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) {
  if (const cudaError_t e = refuse_during_capture("cudaStreamSynchronize")) return e;
  return sticky_error();
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = nullptr;
  if (const cudaError_t e = refuse_during_capture("cudaMalloc")) return e;
  if (device_bytes_in_use() + bytes > kDeviceMemory || !(*ptr = device_allocate(bytes)))
    return fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes");
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  if (const cudaError_t e = refuse_during_capture("cudaFree")) return e;
  if (!device_free(ptr)) return fail(cudaErrorInvalidDevicePointer, "cudaFree of a pointer cudaMalloc did not return");
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  *ptr = nullptr;
  if (const cudaError_t e = refuse_during_capture("cudaMallocHost")) return e;
  const size_t rounded = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) return fail(cudaErrorMemoryAllocation, "cudaMallocHost of " + std::to_string(bytes) + " bytes");
  std::lock_guard lock(state().mutex);
  state().pinned[reinterpret_cast<uintptr_t>(p)] = rounded;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  if (const cudaError_t e = refuse_during_capture("cudaFreeHost")) return e;
  std::lock_guard lock(state().mutex);
  if (!state().pinned.erase(reinterpret_cast<uintptr_t>(ptr)))
    return fail(cudaErrorInvalidValue, "cudaFreeHost of a pointer cudaMallocHost did not return");
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (const cudaError_t e = refuse_during_capture("cudaMemcpy")) return e;
  if (const cudaError_t e = sticky_error()) return e;
  if (const cudaError_t e = check_copy(dst, src, bytes, kind, false)) return e;
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  Stream* s = resolve(stream);
  if (const cudaError_t e = check_copy(dst, src, bytes, kind, s->capturing)) {
    if (s->capturing && s->invalidated.empty()) s->invalidated = t_message;  // a failed call invalidates the capture
    return e;
  }
  return enqueue(stream, [=] {
    if (trace()) std::fprintf(stderr, "gpusim: cudaMemcpyAsync %zu bytes\n", bytes);
    if (bytes) std::memmove(dst, src, bytes);
  });
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream) {
  if (height == 0 || width == 0) return cudaSuccess;
  if (width > dpitch || width > spitch) return fail(cudaErrorInvalidValue, "cudaMemcpy2DAsync: width exceeds a pitch");
  const bool captured = resolve(stream)->capturing;
  // The first and last rows bound what the copy touches on each side.
  if (const cudaError_t e = check_copy(dst, src, width, kind, captured)) return e;
  if (const cudaError_t e = check_copy(static_cast<char*>(dst) + dpitch * (height - 1),
                                       static_cast<const char*>(src) + spitch * (height - 1), width, kind, captured))
    return e;
  return enqueue(stream, [=] {
    if (trace()) std::fprintf(stderr, "gpusim: cudaMemcpy2DAsync %zu x %zu bytes\n", height, width);
    for (size_t r = 0; r < height; ++r)
      std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  });
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  if (bytes && !device_contains(ptr, bytes))
    return fail(cudaErrorInvalidValue, "cudaMemsetAsync of " + std::to_string(bytes) + " bytes outside a device allocation");
  return enqueue(stream, [=] {
    if (trace()) std::fprintf(stderr, "gpusim: cudaMemsetAsync %zu bytes\n", bytes);
    std::memset(ptr, value, bytes);
  });
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  Stream* stream = resolve(s);
  if (stream == &g_default_stream) return fail(cudaErrorStreamCaptureUnsupported, "capture of the legacy default stream");
  if (stream->capturing || t_capturing) return fail(cudaErrorStreamCaptureUnsupported, "a capture inside a capture");
  stream->capturing = true;
  stream->capture_thread = std::this_thread::get_id();
  stream->invalidated.clear();
  stream->captured.clear();
  t_capturing = stream;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  *graph = nullptr;
  Stream* stream = resolve(s);
  if (!stream->capturing) return fail(cudaErrorInvalidValue, "cudaStreamEndCapture of a stream that is not capturing");
  if (stream->capture_thread != std::this_thread::get_id())
    return fail(cudaErrorStreamCaptureWrongThread, "cudaStreamEndCapture on another thread than the capture began");
  stream->capturing = false;
  t_capturing = nullptr;
  std::vector<Op> ops = std::move(stream->captured);
  stream->captured.clear();
  if (!stream->invalidated.empty()) return fail(cudaErrorStreamCaptureInvalidated, stream->invalidated);
  *graph = new Graph{std::move(ops)};
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!graph) return fail(cudaErrorInvalidValue, "cudaGraphInstantiate of a null graph");
  *exec = new GraphExec{graph->ops};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (!exec) return fail(cudaErrorInvalidValue, "cudaGraphLaunch of a null graph");
  for (const Op& op : exec->ops) {
    if (const cudaError_t e = enqueue(stream, op)) return e;
  }
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new Event;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  return enqueue(stream, [event] { event->at = std::chrono::steady_clock::now(); });
}

cudaError_t cudaEventSynchronize(cudaEvent_t) {
  if (const cudaError_t e = refuse_during_capture("cudaEventSynchronize")) return e;
  return sticky_error();
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}
