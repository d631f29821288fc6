// A model directory's weights: `model.safetensors`, or the shards named by
// `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: shard file}}).
//
// Each shard is mapped once; tensors are views into the mappings (no copy). The index is
// authoritative: a tensor it names must be in the shard it names, and tensors a shard holds but
// the index does not name are not part of the checkpoint.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fathom/model/safetensors.h"
#include "fathom/model/tensor_view.h"

namespace fathom::model {

// DeepSeek's FP8 checkpoints scale every 128 x 128 block of a weight (spec §3.3).
inline constexpr std::array<std::int64_t, 2> kDefaultFp8Block{128, 128};

class GgufFile;
struct GgufCheckpointTensors;

class Checkpoint {
 public:
  static constexpr const char* kSingleFileName = "model.safetensors";
  static constexpr const char* kIndexFileName = "model.safetensors.index.json";

  // Opens the weights of `dir` (or a single .safetensors or .gguf file given directly). Throws
  // not_found when the directory has neither file, and the SafetensorsFile errors otherwise.
  static Checkpoint open(const std::filesystem::path& dir);
  // True when `dir` holds model.safetensors or the index (a directory may hold only config.json),
  // or is a GGUF file.
  static bool has_weights(const std::filesystem::path& dir);

  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  const std::filesystem::path& directory() const noexcept { return directory_; }
  // The file that lists the tensors: the index, or the single safetensors file.
  const std::filesystem::path& source() const noexcept { return source_; }
  bool is_sharded() const noexcept { return sharded_; }
  // The GGUF file the tensors come from (renamed to Hugging Face's names), or nullptr; for a
  // model split into parts, the first (which holds the metadata).
  const GgufFile* gguf() const noexcept { return gguf_parts_.empty() ? nullptr : gguf_parts_.front().get(); }
  // Every part of a GGUF model, first part first (one for a whole file); empty for safetensors.
  const std::vector<std::unique_ptr<GgufFile>>& gguf_parts() const noexcept { return gguf_parts_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const noexcept { return files_; }

  std::size_t size() const noexcept { return tensors_.size(); }
  const TensorView* find(std::string_view name) const;
  // Throws not_found naming the tensor and the directory.
  const TensorView& get(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted

  // For an FP8 (1-byte float) weight `<prefix>.weight`, its dequantisation scale
  // `<prefix>.weight_scale_inv`, checked to be F32 with shape [ceil(out/b0), ceil(in/b1)].
  // Returns nullptr for a tensor that is not FP8. Throws (naming both tensors) when the
  // scale is missing or malformed, or when the FP8 tensor is not a 2-D `.weight`.
  const TensorView* scale_for(const TensorView& weight,
                              std::array<std::int64_t, 2> block = kDefaultFp8Block) const;
  const TensorView* scale_for(std::string_view name, std::array<std::int64_t, 2> block = kDefaultFp8Block) const;

 private:
  Checkpoint();
  void open_single(const std::filesystem::path& file);
  void open_sharded(const std::filesystem::path& index);
  void open_gguf(const std::filesystem::path& file);
  std::string where(const TensorView& t) const;

  std::filesystem::path directory_;
  std::filesystem::path source_;
  bool sharded_ = false;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<std::unique_ptr<GgufFile>> gguf_parts_;
  // Held by pointer so that the views (and the map's keys into their names) survive moves.
  std::unique_ptr<GgufCheckpointTensors> gguf_tensors_;
  std::unordered_map<std::string_view, const TensorView*> tensors_;  // keys view the TensorView names
};

// True for the 1-byte float types that need a block scale (spec §3.1 "Rule": decide by dtype).
bool is_fp8(DType dtype);

}  // namespace fathom::model
