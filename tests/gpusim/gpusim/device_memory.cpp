#include "gpusim/device_memory.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "gpusim/executor.h"

namespace fathom::gpusim {

namespace {

struct Allocation {
  size_t requested;   // what cudaMalloc was asked for
  char* mapping;      // the whole mapping, guard page included
  size_t mapping_bytes;
};

struct Registry {
  std::mutex mutex;
  std::map<uintptr_t, Allocation> by_start;
  size_t in_use = 0;
};

Registry& registry() {
  static Registry r;
  return r;
}

size_t page_size() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

struct sigaction g_previous_handler;

// A fault in a guard page: say whose buffer the kernel ran past, then let the fault kill the
// process as it would have without this handler.
void on_fault(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  Registry& r = registry();
  if (r.mutex.try_lock()) {
    for (const auto& [start, a] : r.by_start) {
      const auto guard = reinterpret_cast<uintptr_t>(a.mapping) + a.mapping_bytes - page_size();
      if (addr < guard || addr >= guard + page_size()) continue;
      char text[512];
      const int n = std::snprintf(text, sizeof text,
                                  "gpusim: a kernel accessed byte %zu of a device allocation of %zu bytes (past its end), "
                                  "%s\n",
                                  static_cast<size_t>(addr - start), a.requested, current_thread_description().c_str());
      if (n > 0) (void)!write(STDERR_FILENO, text, std::min<size_t>(static_cast<size_t>(n), sizeof text - 1));
      break;
    }
    r.mutex.unlock();
  }
  sigaction(SIGSEGV, &g_previous_handler, nullptr);
  if (g_previous_handler.sa_flags & SA_SIGINFO && g_previous_handler.sa_sigaction) {
    g_previous_handler.sa_sigaction(sig, info, context);
  }
  // Returning re-runs the faulting access under the previous (default) handler.
}

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous_handler);
  });
}

}  // namespace

void* device_allocate(size_t bytes) {
  install_fault_handler();
  const size_t page = page_size();
  const size_t data = (std::max<size_t>(bytes, 1) + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
  const size_t mapping_bytes = (data + page - 1) / page * page + page;
  void* m = mmap(nullptr, mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  char* mapping = static_cast<char*>(m);
  mprotect(mapping + mapping_bytes - page, page, PROT_NONE);
  char* p = mapping + mapping_bytes - page - data;
  std::memset(p, 0xFF, data);
  std::lock_guard lock(registry().mutex);
  registry().by_start[reinterpret_cast<uintptr_t>(p)] = {std::max<size_t>(bytes, 1), mapping, mapping_bytes};
  registry().in_use += data;
  return p;
}

bool device_free(void* p) {
  std::lock_guard lock(registry().mutex);
  auto it = registry().by_start.find(reinterpret_cast<uintptr_t>(p));
  if (it == registry().by_start.end()) return false;
  registry().in_use -= (it->second.requested + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
  munmap(it->second.mapping, it->second.mapping_bytes);
  registry().by_start.erase(it);
  return true;
}

bool device_contains(const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard lock(registry().mutex);
  auto it = registry().by_start.upper_bound(a);
  if (it == registry().by_start.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second.requested;
}

size_t device_bytes_in_use() {
  std::lock_guard lock(registry().mutex);
  return registry().in_use;
}

}  // namespace fathom::gpusim
