// out[t, :] = table[ids[t], :]   ids [T] i32, table [V, D] (float, or GGUF blocks), out [T, D].
#include <string>
#include <vector>

#include "kernels/dequantize.h"

namespace fathom::reference {

void embedding(const KernelArgs& a) {
  const auto& ids = *a.in[0];
  const auto& table = *a.in[1];
  const auto& out = *a.out[0];
  const int64_t vocab = table.dim(0), width = table.dim(1);
  std::vector<float> row(static_cast<size_t>(width));  // a GGUF-block table's row, dequantised
  for (int64_t t = 0; t < ids.dim(0); ++t) {
    const int32_t id = ids.as<const int32_t>()[t];
    if (id < 0 || id >= vocab)
      sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "embedding: token id " + std::to_string(id) + " outside the vocabulary of " +
                                                std::to_string(vocab));
    if (sdk::is_ggml_layout(table.desc.layout)) {
      dequantize_row(table, nullptr, id, row.data());
      for (int64_t d = 0; d < width; ++d) store_f32(out, t * width + d, row[static_cast<size_t>(d)]);
      continue;
    }
    for (int64_t d = 0; d < width; ++d) store_f32(out, t * width + d, load_f32(table, id * width + d));
  }
}

}  // namespace fathom::reference
