// One .safetensors file, mapped and validated.
//
// Format: an 8-byte little-endian header length N, N bytes of JSON, then the data section.
// The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} with offsets
// relative to the data section; the optional "__metadata__" entry maps strings to strings.
//
// Everything in the header is checked before a TensorView is handed out: the header length
// (bounded, inside the file), the JSON (an object, bounded depth), each entry's fields and types,
// the dtype, begin <= end <= data size, end - begin == elements x element size (checked
// arithmetic), and that no two tensors share bytes. Every error names the file and the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fathom/model/mapped_file.h"
#include "fathom/model/tensor_view.h"

namespace fathom::model {

class SafetensorsFile {
 public:
  // Headers larger than this are refused before parsing (DeepSeek-V3's largest is ~40 KB).
  static constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;

  // Maps and validates `path`. Throws fathom::Error naming the path (and tensor, when one is
  // at fault): not_found / io for the file itself, invalid_argument for a malformed header,
  // unsupported for a dtype Fathom does not know.
  explicit SafetensorsFile(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  const std::filesystem::path& path() const noexcept { return map_->path(); }
  std::uint64_t file_size() const noexcept { return map_->size(); }

  // Tensors in data-offset order.
  const std::vector<TensorView>& tensors() const noexcept { return tensors_; }
  const TensorView* find(std::string_view name) const;
  const std::unordered_map<std::string, std::string>& metadata() const noexcept { return metadata_; }

 private:
  // Held by pointer so that TensorView::file (a pointer to the path inside) survives moves.
  std::unique_ptr<MappedFile> map_;
  std::vector<TensorView> tensors_;
  // Keys view tensors_[i].name; tensors_ is never resized after construction, and moving a
  // vector keeps its elements where they are, so the views stay valid.
  std::unordered_map<std::string_view, std::size_t> by_name_;
  std::unordered_map<std::string, std::string> metadata_;
};

}  // namespace fathom::model
