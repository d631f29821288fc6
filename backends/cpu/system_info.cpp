#include "system_info.h"

#include <sched.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace fathom::cpu {

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The value of "key:" in a "key: value" text file such as /proc/cpuinfo or /proc/meminfo.
std::string field(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon != std::string::npos && trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
  }
  return {};
}

int read_int(const std::string& path, int fallback) {
  std::ifstream in(path);
  int v;
  return (in >> v) ? v : fallback;
}

uint64_t meminfo_bytes(const std::string& key) {
  const std::string v = field("/proc/meminfo", key);  // "24570116 kB"
  return v.empty() ? 0 : std::stoull(v) * 1024;
}

}  // namespace

std::string cpu_model_name() {
  std::string name = field("/proc/cpuinfo", "model name");
  return name.empty() ? "unknown CPU" : name;
}

int physical_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
  }
  std::set<std::pair<int, int>> cores;  // (package, core) pairs
  int cpus = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    ++cpus;
    const std::string topo = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    cores.emplace(read_int(topo + "physical_package_id", 0), read_int(topo + "core_id", cpu));
  }
  const int n = cores.empty() ? cpus : static_cast<int>(cores.size());
  return n > 0 ? n : 1;
}

uint64_t total_memory_bytes() { return meminfo_bytes("MemTotal"); }
uint64_t available_memory_bytes() { return meminfo_bytes("MemAvailable"); }

}  // namespace fathom::cpu
