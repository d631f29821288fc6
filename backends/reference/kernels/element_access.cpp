#include "fathom/sdk/float_formats.hpp"
#include "kernels/kernels.h"

namespace fathom::reference {

namespace floats = sdk::floats;

float load_f32(const sdk::HostTensor& t, int64_t i) {
  switch (t.dtype()) {
    case FATHOM_DTYPE_F32: return t.as<const float>()[i];
    case FATHOM_DTYPE_F16: return floats::f16_to_f32(t.as<const uint16_t>()[i]);
    case FATHOM_DTYPE_BF16: return floats::bf16_to_f32(t.as<const uint16_t>()[i]);
    case FATHOM_DTYPE_F8_E4M3FN: return floats::e4m3fn_to_f32(t.as<const uint8_t>()[i]);
    case FATHOM_DTYPE_F8_E5M2: return floats::e5m2_to_f32(t.as<const uint8_t>()[i]);
    case FATHOM_DTYPE_I32: return static_cast<float>(t.as<const int32_t>()[i]);
    case FATHOM_DTYPE_I64: return static_cast<float>(t.as<const int64_t>()[i]);
    case FATHOM_DTYPE_U8: return static_cast<float>(t.as<const uint8_t>()[i]);
  }
  sdk::fail_invalid("load_f32: unknown dtype");
}

void store_f32(const sdk::HostTensor& t, int64_t i, float v) {
  switch (t.dtype()) {
    case FATHOM_DTYPE_F32: t.as<float>()[i] = v; return;
    case FATHOM_DTYPE_F16: t.as<uint16_t>()[i] = floats::f32_to_f16(v); return;
    case FATHOM_DTYPE_BF16: t.as<uint16_t>()[i] = floats::f32_to_bf16(v); return;
    case FATHOM_DTYPE_F8_E4M3FN: t.as<uint8_t>()[i] = floats::f32_to_e4m3fn(v, true); return;
    case FATHOM_DTYPE_F8_E5M2: t.as<uint8_t>()[i] = floats::f32_to_e5m2(v, true); return;
    default: sdk::fail_invalid("store_f32: not a float dtype");
  }
}

}  // namespace fathom::reference
