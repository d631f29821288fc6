// Quantising a weight matrix at load (weights = "int8" | "int4"; the format is isa/quant.h).
#pragma once

#include <optional>

#include "matmul/weight_memory.h"
#include "matmul/weight_view.h"

namespace fathom::cpu {

struct CpuContext;

// `source` (any float format, block scales applied) quantised row by row into one block of the
// context's arena: the codes, then the group scales. The view reads that block. Nothing when the
// matrix cannot be: K not a multiple of kQuantGroup, a weight that is not finite, or a group whose
// scale f16 cannot hold (|w| beyond ~8 · 10⁶); the caller then keeps the stored format. The
// source's file pages are released afterwards (as copy_to_arena does), so resident memory stays
// about one model.
struct QuantizedMatrix {
  WeightView view;
  WeightArena::Block storage;
};
std::optional<QuantizedMatrix> quantize_matrix(CpuContext& ctx, const WeightView& source, WFormat target);

// A matrix in GGUF's blocks of 32 (source.ggml_layout) in the q8 / q4 / iq4 layout
// (unpacked_format): the same codes (Q5_0's q − 16, Q4_1's and Q5_1's unsigned codes in a byte;
// Q4_0's and IQ4_NL's nibbles as they are) and scales, the scales moved out of the rows; Q4_1's
// and Q5_1's offsets as the view's group_offsets (f32, exact). 8.5 bits a weight as q8, 9.5 with
// offsets (Q4_1 5 in the file, Q5_1 6), 4.5 as q4 / iq4 (as in the file).
// The source's file pages are released afterwards.
QuantizedMatrix unpack_ggml_blocks(CpuContext& ctx, const WeightView& source);

// A matrix in GGUF's K-quant blocks (Q2_K to Q6_K) in the q2k ... q6k layout (isa.h, quant.h;
// unpacked_format picks it): every weight's code, and the blocks' d / dmin and the sub-blocks'
// integer scales / mins, as sdk/ggml_blocks.hpp reads them (Q5_K's scale and min of 32 written
// for both halves of 16; Q6_K and Q3_K have no mins). The same weights exactly, in 4.75 bits a
// weight for Q4_K (4.5 in the file), 6.25 for Q5_K (5.5), 6.6 for Q6_K (6.56), 3.63 for Q3_K
// (3.44) and 3.25 for Q2_K (2.625: its 4-bit scales and mins take a byte each here, and d / dmin
// an f32). The source's file pages are released afterwards.
QuantizedMatrix unpack_ggml_k_blocks(CpuContext& ctx, const WeightView& source);

}  // namespace fathom::cpu
