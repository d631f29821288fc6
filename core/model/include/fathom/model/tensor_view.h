// A tensor inside a mapped weight file: metadata plus a pointer into the mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "fathom/core/dtype.h"
#include "fathom/plugin_api.h"

namespace fathom::model {

// Valid while the SafetensorsFile (or Checkpoint) that produced it lives. `data` points into
// the read-only mapping and is not necessarily aligned to the element size: read elements with
// memcpy or through byte-wise loads, never through a cast pointer.
// A weight in GGUF's quantised blocks (plugin_api.h, FATHOM_LAYOUT_GGML_*): dtype U8, `shape` the
// logical [rows, cols], `nbytes` rows · cols/B · the block's bytes (B = 32 weights for Q8_0, Q5_0,
// Q5_1, Q4_0, Q4_1 and IQ4_NL, 256 for the K-quants and the other I-quants).
// The values are the plugin ABI's layout ids, which the graph hands to backends as they are.
enum class GgmlBlocks : std::uint32_t {
  none = FATHOM_LAYOUT_DENSE,
  q8_0 = FATHOM_LAYOUT_GGML_Q8_0,
  q4_0 = FATHOM_LAYOUT_GGML_Q4_0,
  q5_0 = FATHOM_LAYOUT_GGML_Q5_0,
  q4_1 = FATHOM_LAYOUT_GGML_Q4_1,
  q5_1 = FATHOM_LAYOUT_GGML_Q5_1,
  iq4_nl = FATHOM_LAYOUT_GGML_IQ4_NL,
  q2_k = FATHOM_LAYOUT_GGML_Q2_K,
  q3_k = FATHOM_LAYOUT_GGML_Q3_K,
  iq4_xs = FATHOM_LAYOUT_GGML_IQ4_XS,
  q4_k = FATHOM_LAYOUT_GGML_Q4_K,
  q5_k = FATHOM_LAYOUT_GGML_Q5_K,
  q6_k = FATHOM_LAYOUT_GGML_Q6_K,
  iq2_xxs = FATHOM_LAYOUT_GGML_IQ2_XXS,
  iq2_xs = FATHOM_LAYOUT_GGML_IQ2_XS,
  iq2_s = FATHOM_LAYOUT_GGML_IQ2_S,
  iq3_xxs = FATHOM_LAYOUT_GGML_IQ3_XXS,
  iq3_s = FATHOM_LAYOUT_GGML_IQ3_S,
  iq1_s = FATHOM_LAYOUT_GGML_IQ1_S,
  iq1_m = FATHOM_LAYOUT_GGML_IQ1_M,
};
inline std::uint32_t layout_of(GgmlBlocks b) { return static_cast<std::uint32_t>(b); }

struct TensorView {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  const std::byte* data = nullptr;
  std::size_t nbytes = 0;
  const std::filesystem::path* file = nullptr;  // the file holding the bytes; owned like `data`
  // The bytes are the checkpoint's own memory, not a file mapping (a GGUF file's kv_b_proj,
  // joined from its two halves at load).
  bool in_memory = false;
  GgmlBlocks blocks = GgmlBlocks::none;

  std::uint64_t element_count() const;  // product of shape (1 for a scalar)
  std::span<const std::byte> bytes() const { return {data, nbytes}; }
};

// Gives back the resident pages of the mapping under `t` (the whole pages inside its bytes; the
// pages it shares with its neighbours stay). Touched again, they are read from the file again:
// every TensorView points into a read-only private file mapping, but those `in_memory`, which are
// left alone (giving back anonymous pages would zero them). For code that reads a tensor once at
// load (to compare it, say) and should not keep it in the process's memory.
void release_resident_pages(const TensorView& t) noexcept;

// The dtype strings of the safetensors format ("F32", "BF16", "F8_E4M3", ...).
// Returns false for a string Fathom has no DType for (F64, I8, BOOL, ...).
bool dtype_from_safetensors(std::string_view name, DType& out);
std::string_view safetensors_dtype_name(DType dtype);

}  // namespace fathom::model
