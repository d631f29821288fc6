// Facts about the host machine for device_info and for the default thread count.
#pragma once

#include <cstdint>
#include <string>

namespace fathom::cpu {

// "model name" of /proc/cpuinfo (e.g. "AMD EPYC 9454"), or "unknown CPU".
std::string cpu_model_name();

// Physical cores among the CPUs this process may run on (SMT siblings counted once: they share
// the FMA units and the memory bandwidth that decode is bound by). At least 1.
int physical_cores();

// Total and available RAM in bytes (0 when unknown).
uint64_t total_memory_bytes();
uint64_t available_memory_bytes();

}  // namespace fathom::cpu
