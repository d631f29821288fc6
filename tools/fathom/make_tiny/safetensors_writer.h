// Writes a .safetensors file tensor by tensor without holding them all in memory: the header is
// laid out first from the declared names, dtypes and shapes, then each tensor's bytes are
// produced on demand, in declaration order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "fathom/core/dtype.h"

namespace fathom::tools {

struct TensorDecl {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  // Fills the tensor's bytes (exactly element count × dtype size).
  std::function<void(std::span<std::byte>)> fill;
};

// Throws io_error naming the path when the file cannot be written.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorDecl>& tensors);

}  // namespace fathom::tools
