// Runs a kernel's grid on the calling thread: blocks one after another, and inside a block one
// fiber per GPU thread (Boost.Context: a switch costs nanoseconds, where ucontext's makes a
// system call). A fiber runs until it finishes or waits at a barrier; when every fiber waits or
// is done, the scheduler releases what may go on:
//   - a warp whose lanes all wait at a warp barrier (a shuffle, __syncwarp);
//   - otherwise the whole block, when every live thread waits at __syncthreads.
// Anything else cannot progress on a GPU either, and fails the launch with the reason:
// a shuffle some of whose lanes have returned or never existed, or threads at __syncthreads
// while others of the block wait at a warp operation.
//
// FATHOM_GPUSIM_ORDER=reverse runs the fibers (and blocks) in the opposite order. Code that
// reads what another thread wrote without a barrier between gives a different answer then,
// which is how the tests find a missing __syncthreads.
#include "gpusim/executor.h"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/context/fiber.hpp>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace fathom::gpusim {

namespace {

namespace bctx = boost::context;

constexpr size_t kStackBytes = 128 * 1024;

enum class FiberState { ready, running, at_block_barrier, at_warp_barrier, done };

struct Fiber {
  ThreadState thread;
  FiberState state = FiberState::ready;
  bctx::fiber context;    // resumes this GPU thread
  bctx::fiber scheduler;  // inside the thread: resumes the scheduler
  unsigned shuffles = 0;  // shuffles this thread has made: picks the exchange buffer
  bool waited_prior_grid = false;  // called fathom_wait_prior_grid()
};

// One fiber stack: mapped once per host thread and reused, with a guard page below it so that
// an overflow faults instead of overwriting the next stack.
class Stack {
 public:
  Stack() {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    mapping_bytes_ = kStackBytes + page;
    void* p = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("gpusim: cannot map a fiber stack");
    mprotect(p, page, PROT_NONE);
    base_ = static_cast<char*>(p);
  }
  ~Stack() {
    if (base_) munmap(base_, mapping_bytes_);
  }
  Stack(Stack&& o) noexcept : base_(std::exchange(o.base_, nullptr)), mapping_bytes_(o.mapping_bytes_) {}
  Stack(const Stack&) = delete;
  char* top() const { return base_ + mapping_bytes_; }  // stacks grow down from here

 private:
  char* base_ = nullptr;
  size_t mapping_bytes_ = 0;
};

// Boost.Context's stack allocator over a pooled stack: nothing is mapped per fiber.
struct PooledStack {
  const Stack* stack;
  bctx::stack_context allocate() {
    bctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = stack->top();
    return sc;
  }
  void deallocate(bctx::stack_context&) noexcept {}
};

struct BlockRun {
  std::vector<Fiber> fibers;
  // Shuffle slots, one per thread, in two buffers used alternately: a lane that has read shuffle
  // k's values may write shuffle k+1's before its slower neighbours have read shuffle k's, and
  // nobody writes buffer k % 2 again before every lane has passed shuffle k+1's barrier.
  std::vector<std::array<std::byte, 16>> exchange[2];
  int warp_size = 32;
  bool programmatic = false;
  const std::function<void()>* body = nullptr;
  Fiber* current = nullptr;
};

thread_local BlockRun* t_run = nullptr;
thread_local std::vector<Stack> t_stacks;

std::atomic<bool>& reverse_flag() {
  static std::atomic<bool> reverse = [] {
    const char* v = std::getenv("FATHOM_GPUSIM_ORDER");
    return v && std::string(v) == "reverse";
  }();
  return reverse;
}

bool reverse_order() { return reverse_flag().load(); }

int linear_index(const ThreadState& t) {
  return static_cast<int>(t.thread_idx.x + t.block_dim.x * (t.thread_idx.y + t.block_dim.y * t.thread_idx.z));
}

void wait_at(FiberState barrier) {
  BlockRun* run = t_run;
  if (!run || !run->current) throw std::logic_error("gpusim: a barrier outside a kernel");
  Fiber* f = run->current;
  f->state = barrier;
  f->scheduler = std::move(f->scheduler).resume();
}

std::string where(const Fiber& f) {
  const ThreadState& t = f.thread;
  return "block (" + std::to_string(t.block_idx.x) + "," + std::to_string(t.block_idx.y) + "," +
         std::to_string(t.block_idx.z) + ") thread (" + std::to_string(t.thread_idx.x) + "," +
         std::to_string(t.thread_idx.y) + "," + std::to_string(t.thread_idx.z) + ")";
}

// Releases whatever may go on once no fiber is ready. Returns an empty string when something was
// released (or everything is done), else why the block cannot go on.
std::string release(BlockRun& run, bool& all_done) {
  const int n = static_cast<int>(run.fibers.size()), w = run.warp_size;
  all_done = true;
  for (const Fiber& f : run.fibers) all_done &= f.state == FiberState::done;
  if (all_done) return "";

  bool released = false;
  for (int first = 0; first < n; first += w) {
    const int last = std::min(n, first + w);
    int waiting = 0, done = 0;
    for (int i = first; i < last; ++i) {
      waiting += run.fibers[i].state == FiberState::at_warp_barrier;
      done += run.fibers[i].state == FiberState::done;
    }
    if (waiting == 0) continue;
    const Fiber& some = run.fibers[first];
    if (last - first < w)
      return "a warp operation in a partial warp (" + std::to_string(last - first) + " of " + std::to_string(w) +
             " lanes exist; block size " + std::to_string(n) + ") at " + where(some);
    if (done > 0)
      return "a warp operation while " + std::to_string(done) + " lanes of the warp have returned, at " + where(some);
    if (waiting == last - first) {
      for (int i = first; i < last; ++i) run.fibers[i].state = FiberState::ready;
      released = true;
    }
  }
  if (released) return "";

  for (const Fiber& f : run.fibers) {
    if (f.state == FiberState::at_warp_barrier)
      return "threads wait at __syncthreads while " + where(f) + " waits at a warp operation";
  }
  // Every live thread is at __syncthreads (returned threads count as arrived, as on hardware).
  for (Fiber& f : run.fibers) {
    if (f.state == FiberState::at_block_barrier) f.state = FiberState::ready;
  }
  return "";
}

std::string run_block(BlockRun& run, const std::vector<Stack>& stacks) {
  const int n = static_cast<int>(run.fibers.size());
  for (int i = 0; i < n; ++i) {
    Fiber& f = run.fibers[i];
    f.state = FiberState::ready;
    f.shuffles = 0;
    f.waited_prior_grid = false;
    // Assigning drops the previous block's fiber; one abandoned by a failed launch is unwound.
    f.context = bctx::fiber(std::allocator_arg, PooledStack{&stacks[i]}, [&f, &run](bctx::fiber&& scheduler) {
      f.scheduler = std::move(scheduler);
      (*run.body)();
      f.state = FiberState::done;
      return std::move(f.scheduler);
    });
  }
  const bool reverse = reverse_order();
  for (;;) {
    for (int k = 0; k < n; ++k) {
      Fiber& f = run.fibers[reverse ? n - 1 - k : k];
      if (f.state != FiberState::ready) continue;
      f.state = FiberState::running;
      run.current = &f;
      f.context = std::move(f.context).resume();
      if (run.programmatic && !f.waited_prior_grid)
        return "a programmatically launched thread reached " +
               std::string(f.state == FiberState::done ? "its end" : "a barrier or warp operation") +
               " without calling fathom_wait_prior_grid() first, at " + where(f);
    }
    bool all_done = false;
    std::string why = release(run, all_done);
    if (!why.empty()) return why;
    if (all_done) return "";
  }
}

}  // namespace

const ThreadState& this_thread() {
  if (!t_run || !t_run->current) throw std::logic_error("gpusim: a thread index outside a kernel");
  return t_run->current->thread;
}

void sync_block() { wait_at(FiberState::at_block_barrier); }
void sync_warp() { wait_at(FiberState::at_warp_barrier); }

void wait_prior_grid() {
  if (!t_run || !t_run->current) throw std::logic_error("gpusim: fathom_wait_prior_grid outside a kernel");
  t_run->current->waited_prior_grid = true;
}

void shuffle_xor(const void* value, void* out, size_t bytes, int lane_mask) {
  const int me = linear_index(this_thread()), w = t_run->warp_size;
  const int source = me / w * w + ((me % w) ^ (lane_mask & (w - 1)));
  auto& buffer = t_run->exchange[t_run->current->shuffles++ % 2];
  std::memcpy(buffer[static_cast<size_t>(me)].data(), value, bytes);
  sync_warp();
  std::memcpy(out, buffer.at(static_cast<size_t>(source)).data(), bytes);
}

void set_reverse_order(bool reverse) { reverse_flag() = reverse; }

std::string current_thread_description() {
  if (!t_run || !t_run->current) return "outside a kernel";
  const ThreadState& t = t_run->current->thread;
  auto d = [](dim3 v) { return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")"; };
  return "in " + where(*t_run->current) + " of a grid " + d(t.grid_dim) + " of blocks " + d(t.block_dim);
}

std::string run_grid(dim3 grid, dim3 block, int warp_size, bool programmatic, const std::function<void()>& body) {
  if (t_run) return "a kernel launched from inside a kernel";
  const int n = static_cast<int>(block.x * block.y * block.z);
  while (static_cast<int>(t_stacks.size()) < n) t_stacks.emplace_back();
  BlockRun run;
  run.fibers.resize(static_cast<size_t>(n));
  for (auto& buffer : run.exchange) buffer.resize(static_cast<size_t>(n));
  run.warp_size = warp_size;
  run.programmatic = programmatic;
  run.body = &body;
  t_run = &run;
  const uint64_t blocks = uint64_t{grid.x} * grid.y * grid.z;
  const bool reverse = reverse_order();
  std::string why;
  for (uint64_t k = 0; k < blocks && why.empty(); ++k) {
    const uint64_t b = reverse ? blocks - 1 - k : k;
    const dim3 block_idx(static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                         static_cast<unsigned>(b / (uint64_t{grid.x} * grid.y)));
    for (int i = 0; i < n; ++i) {
      ThreadState& t = run.fibers[i].thread;
      t.thread_idx = dim3(static_cast<unsigned>(i) % block.x, static_cast<unsigned>(i) / block.x % block.y,
                          static_cast<unsigned>(i) / (block.x * block.y));
      t.block_idx = block_idx;
      t.block_dim = block;
      t.grid_dim = grid;
    }
    why = run_block(run, t_stacks);
  }
  t_run = nullptr;
  return why;
}

}  // namespace fathom::gpusim
