#include "cpu_options.h"

#include <string>

#include "fathom/sdk/status.hpp"
#include "system_info.h"

namespace fathom::cpu {

namespace {

// The defaults come from the measurements in docs/performance.md ("CPU backend"):
//  - weights = "fp8": decode reads half the bytes of bf16 and the in-register widening keeps up
//    with memory on AVX2 as on AVX-512, so FP8 is faster at batch 1 and needs half the RAM;
//  - matmul_precision = "f32": activations stay f32 in every product, so results are the same on
//    every CPU and within f32 rounding of the reference. Rounding them to bf16 for the bf16
//    kernels (oneDNN's and the vdpbf16ps GEMV, AVX-512 with BF16 only) speeds prefill up 1.4-1.9x
//    and decode up to 20 % but, on the golden fixtures, flips the router's choice between nearly
//    tied experts and moves logits by up to 20-70 % of their range (emulated on AVX2);
//  - weight_memory = "copy": the kernels stream weights from anonymous huge-page memory ~30 %
//    faster than from the checkpoint's file mapping (decode 11 → 15 tokens/s on the peer model);
//  - gemv_max_rows = 16, or 48 where the AVX-512 table serves f32 products: on Zen 3 (AVX2) the
//    GEMV kernels (one pass over the weights, widened in registers) beat widening tiles for
//    oneDNN's sgemm by 1.1-3x up to 16 rows and tied at 32; on Zen 4 (AVX-512) they beat the
//    (transposed, 'N','N') tiles by 1.2-1.6x up to 48 rows, bf16 and FP8, and tie at 64 for FP8.
//    With matmul_precision = "bf16", oneDNN's bf16 matmul leads from 16 rows.
const fathom_option_decl kDecls[] = {
    {"threads", FATHOM_OPTION_INT, 0, "0",
     "OpenMP threads for every kernel and oneDNN call; 0 = one per physical core this process may use"},
    {"weights", FATHOM_OPTION_STRING, 0, "\"fp8\"",
     "\"fp8\": FP8 checkpoints stay FP8, widened in registers; \"bf16\": FP8 dequantised to bf16 at load; \"int8\" / \"int4\": every matrix product's weights quantised at load (groups of 32, an f16 scale each)"},
    {"weight_memory", FATHOM_OPTION_STRING, 0, "\"copy\"",
     "\"copy\": weights read in their stored format are copied once into huge-page memory (faster); \"mapped\": read from the file mapping"},
    {"matmul_precision", FATHOM_OPTION_STRING, 0, "\"f32\"",
     "\"f32\": activations stay f32 in every product; \"bf16\": products with bf16 weights round activations to bf16 and use bf16 kernels where the CPU has them (AVX-512 BF16); \"int8\": products with int8/int4 weights quantise activations to int8 per group of 32 (AVX-512 VNNI)"},
    {"gemv_max_rows", FATHOM_OPTION_INT, 0, "48 with AVX-512 kernels and f32 products, else 16",
     "matmuls with at most this many tokens use the hand-written GEMV kernels, larger ones oneDNN (0-64)"},
    {"isa", FATHOM_OPTION_STRING, 0, "\"auto\"",
     "kernel instruction set: \"auto\" (best available), \"avx512\", \"avx2\" or \"scalar\""},
    {nullptr, 0, 0, nullptr, nullptr},
};

bool get_int(const fathom_options& o, const char* key, int64_t& out) {
  return o.get_int && o.get_int(o.context, key, &out) != 0;
}

bool get_string(const fathom_options& o, const char* key, std::string& out) {
  const char* s = nullptr;
  if (!o.get_string || o.get_string(o.context, key, &s) == 0 || !s) return false;
  out = s;
  return true;
}

Isa best_isa() {
  if (cpu_supports(Isa::avx512)) return Isa::avx512;
  if (cpu_supports(Isa::avx2)) return Isa::avx2;
  return Isa::scalar;
}

}  // namespace

const fathom_option_decl* option_declarations() { return kDecls; }

const char* weight_storage_name(WeightStorage s) {
  switch (s) {
    case WeightStorage::fp8: return "fp8";
    case WeightStorage::bf16: return "bf16";
    case WeightStorage::int8: return "int8";
    case WeightStorage::int4: return "int4";
  }
  return "?";
}

const char* weight_memory_name(WeightMemory m) { return m == WeightMemory::copy ? "copied to huge pages" : "mapped"; }

CpuOptions parse_options(const fathom_options& options) {
  CpuOptions o;

  int64_t threads = 0;
  get_int(options, "threads", threads);
  if (threads < 0 || threads > 4096)
    sdk::fail_invalid("[backend.cpu] threads = " + std::to_string(threads) + ": expected 0 (all cores) to 4096");
  o.threads = threads == 0 ? physical_cores() : static_cast<int>(threads);

  std::string weights = "fp8";
  get_string(options, "weights", weights);
  if (weights == "fp8") o.weights = WeightStorage::fp8;
  else if (weights == "bf16") o.weights = WeightStorage::bf16;
  else if (weights == "int8") o.weights = WeightStorage::int8;
  else if (weights == "int4") o.weights = WeightStorage::int4;
  else sdk::fail_invalid("[backend.cpu] weights = \"" + weights + "\": expected \"fp8\", \"bf16\", \"int8\" or \"int4\"");

  std::string memory = "copy";
  get_string(options, "weight_memory", memory);
  if (memory == "copy") o.weight_memory = WeightMemory::copy;
  else if (memory == "mapped") o.weight_memory = WeightMemory::mapped;
  else sdk::fail_invalid("[backend.cpu] weight_memory = \"" + memory + "\": expected \"copy\" or \"mapped\"");

  std::string precision = "f32";
  get_string(options, "matmul_precision", precision);
  if (precision == "f32" || precision == "bf16" || precision == "int8") {
    o.bf16_matmuls = precision == "bf16";
    o.int8_matmuls = precision == "int8";
  } else {
    sdk::fail_invalid("[backend.cpu] matmul_precision = \"" + precision + "\": expected \"f32\", \"bf16\" or \"int8\"");
  }


  std::string isa = "auto";
  get_string(options, "isa", isa);
  if (isa == "auto") {
    o.isa = best_isa();
  } else {
    if (isa == "avx512") o.isa = Isa::avx512;
    else if (isa == "avx2") o.isa = Isa::avx2;
    else if (isa == "scalar") o.isa = Isa::scalar;
    else sdk::fail_invalid("[backend.cpu] isa = \"" + isa + "\": expected \"auto\", \"avx512\", \"avx2\" or \"scalar\"");
    if (!cpu_supports(o.isa))
      sdk::fail_invalid("[backend.cpu] isa = \"" + isa + "\": this CPU (" + cpu_model_name() + ") does not support it");
    o.isa_forced = true;
  }

  // Read after isa and matmul_precision: its default depends on both (see the top of this file).
  if (!get_int(options, "gemv_max_rows", o.gemv_max_rows))
    o.gemv_max_rows = o.isa == Isa::avx512 && !o.bf16_matmuls ? 48 : 16;
  if (o.gemv_max_rows < 0 || o.gemv_max_rows > 64)
    sdk::fail_invalid("[backend.cpu] gemv_max_rows = " + std::to_string(o.gemv_max_rows) + ": expected 0 to 64");
  return o;
}

}  // namespace fathom::cpu
