// Per-thread scratch memory for kernels. OpenMP's threads persist between regions, so each
// keeps its buffers and they stop growing after the first few runs. Each slot is one use; a
// kernel never holds two pointers into the same slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fathom::cpu {

enum class Scratch { activations, weights, tile, tile_transposed, attention, attention2, bf16, experts, dnnl, codes, group_sums, grid_factors, count_ };

// At least `n` elements of T, 64-byte aligned, valid until the same slot is asked for again on
// this thread. Contents are unspecified.
template <typename T>
T* scratch(Scratch slot, size_t n) {
  thread_local std::vector<std::byte> buffers[static_cast<int>(Scratch::count_)];
  std::vector<std::byte>& b = buffers[static_cast<int>(slot)];
  const size_t need = n * sizeof(T) + 64;
  if (b.size() < need) {
    b.clear();
    b.shrink_to_fit();
    b.resize(need + need / 4);
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(b.data());
  return reinterpret_cast<T*>((p + 63) & ~uintptr_t{63});
}

}  // namespace fathom::cpu
