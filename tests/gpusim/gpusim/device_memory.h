// The simulator's device memory: each cudaMalloc is its own mapping, placed so that the
// allocation ends (to cudaMalloc's 256-byte granularity) right before an inaccessible guard page.
// A kernel that reads or writes past the end of a buffer — the usual tail bug of a GPU kernel,
// which on a GPU faults or silently reads a neighbour — faults here, and the fault handler names
// the allocation and the GPU thread before the process dies.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fathom::gpusim {

constexpr size_t kDeviceAlignment = 256;  // cudaMalloc's guarantee

// New memory is filled with 0xFF bytes (NaN in every float format). Returns null when out of
// memory. Thread-safe.
void* device_allocate(size_t bytes);
// False when `p` is not an allocation's start.
bool device_free(void* p);
// Whether [p, p + bytes) lies inside one allocation's requested bytes.
bool device_contains(const void* p, size_t bytes);
size_t device_bytes_in_use();

}  // namespace fathom::gpusim
