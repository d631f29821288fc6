// Which kernel table this CPU can run. __builtin_cpu_supports reads CPUID once (and checks
// that the OS saves the wide registers), so this is safe to call from probe() and create().
#include "isa/bf16_dot.h"
#include "isa/e4m3_lookup.h"
#include "isa/int8_dot.h"
#include "isa/isa.h"

namespace fathom::cpu {

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::avx512:
      return cpu_supports(Isa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
}

bool cpu_supports_avx512_bf16() { return cpu_supports(Isa::avx512) && __builtin_cpu_supports("avx512bf16"); }
bool cpu_supports_avx512_vnni() { return cpu_supports(Isa::avx512) && __builtin_cpu_supports("avx512vnni"); }

const Int8DotKernels* int8_dot_for(Isa isa) {
  if (isa == Isa::avx512 && cpu_supports_avx512_vnni()) return &avx512_vnni_int8_dot();
  if (isa != Isa::scalar) return &avx2_int8_dot();  // the AVX-512 table implies AVX2
  return nullptr;
}
bool cpu_supports_avx512_vbmi() { return cpu_supports(Isa::avx512) && __builtin_cpu_supports("avx512vbmi"); }

const IsaKernels& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return avx512_kernels();
    case Isa::avx2: return avx2_kernels();
    default: return scalar_kernels();
  }
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

const char* isa_description(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "AVX-512 F/BW/VL/DQ + FMA + F16C kernels";
    case Isa::avx2: return "AVX2 + FMA + F16C kernels";
    default: return "portable scalar kernels";
  }
}

}  // namespace fathom::cpu
