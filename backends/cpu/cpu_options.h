// The [backend.cpu] options: declaration (types, defaults, docs for `fathom backends`) and
// parsing into checked values. A bad value makes create() fail with a message naming the key.
#pragma once

#include <cstdint>
#include <string>

#include "fathom/plugin_api.h"
#include "isa/isa.h"

namespace fathom::cpu {

// How the weights of matrix products are held (option `weights`; README.md, "FP8 weights" and
// "Quantised weights").
enum class WeightStorage {
  fp8,   // as stored: FP8 keeps its bytes, widened in registers inside the kernels
  bf16,  // FP8 dequantised to bf16 once at load (twice the memory; oneDNN bf16 can use it)
  int8,  // every matrix product's weights quantised at load: q8, groups of 32 (isa/quant.h)
  int4,  // likewise q4
};

// Where the weights read in their stored format live (see matmul/weight_memory.h).
enum class WeightMemory {
  copy,    // copied once into anonymous memory with huge pages (faster to stream)
  mapped,  // read from the checkpoint's file mapping (no copy)
};

struct CpuOptions {
  int threads = 1;              // resolved: >= 1
  WeightStorage weights = WeightStorage::fp8;
  WeightMemory weight_memory = WeightMemory::copy;
  // matmul_precision = "bf16": bf16 weights go to oneDNN's bf16 kernels (where it has them),
  // which round the activations to bf16. Off by default: see cpu_options.cpp.
  bool bf16_matmuls = false;
  // matmul_precision = "int8": products with int8/int4 weights quantise the activations to int8
  // too, per group of 32, and run on vpdpbusd where the CPU has AVX512_VNNI (isa/int8_dot.h).
  bool int8_matmuls = false;
  int64_t gemv_max_rows = 16;   // matmuls with at most this many rows of x use the GEMV kernels
                                // (unset: 48 with the AVX-512 table and f32 products, else 16)
  Isa isa = Isa::scalar;        // resolved: the table the kernels run with
  bool isa_forced = false;      // chosen by the `isa` option rather than detected
};

// The NULL-terminated declaration list handed to the host.
const fathom_option_decl* option_declarations();

// Reads and checks the options; throws sdk::Error (invalid argument) naming the key on a bad value.
CpuOptions parse_options(const fathom_options& options);

const char* weight_storage_name(WeightStorage s);
const char* weight_memory_name(WeightMemory m);

}  // namespace fathom::cpu
