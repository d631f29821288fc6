#include "fathom/model/checkpoint.h"

#include <algorithm>
#include <map>
#include <system_error>

#include "checked_math.h"
#include "fathom/core/error.h"
#include "fathom/model/gguf_deepseek.h"
#include "fathom/model/gguf_split.h"
#include "json_input.h"

namespace fathom::model {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxIndexBytes = 256u << 20;  // DeepSeek-V3's index is ~9 MB
constexpr int kMaxIndexDepth = 8;

bool file_exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

// Shard names come from a file we do not trust: keep them inside the model directory.
bool is_safe_relative_name(const std::string& name) {
  if (name.empty()) return false;
  const std::filesystem::path p(name);
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) return false;
  return std::none_of(p.begin(), p.end(), [](const std::filesystem::path& part) { return part == ".."; });
}

}  // namespace

bool is_fp8(DType dtype) { return dtype == DType::f8_e4m3fn || dtype == DType::f8_e5m2; }

Checkpoint::Checkpoint() = default;
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

bool Checkpoint::has_weights(const std::filesystem::path& dir) {
  return is_gguf_file(dir) || file_exists(dir / kIndexFileName) || file_exists(dir / kSingleFileName);
}

Checkpoint Checkpoint::open(const std::filesystem::path& path) {
  Checkpoint ckpt;
  if (file_exists(path)) {  // a .safetensors or .gguf file given directly
    ckpt.directory_ = path.parent_path();
    if (is_gguf_file(path)) {
      ckpt.open_gguf(path);
    } else {
      ckpt.open_single(path);
    }
    return ckpt;
  }
  ckpt.directory_ = path;
  if (file_exists(path / kIndexFileName)) {
    ckpt.open_sharded(path / kIndexFileName);
  } else if (file_exists(path / kSingleFileName)) {
    ckpt.open_single(path / kSingleFileName);
  } else {
    throw not_found(path.string() + ": no " + kSingleFileName + " or " + kIndexFileName + " (no weights to load)");
  }
  return ckpt;
}

void Checkpoint::open_single(const std::filesystem::path& file) {
  source_ = file;
  files_.push_back(std::make_unique<SafetensorsFile>(file));
  for (const TensorView& t : files_.back()->tensors()) tensors_.emplace(t.name, &t);
}

void Checkpoint::open_gguf(const std::filesystem::path& file) {
  source_ = file;
  gguf_parts_ = open_gguf_parts(file);
  gguf_tensors_ = std::make_unique<GgufCheckpointTensors>(gguf_deepseek_tensors(gguf_parts_));
  for (const TensorView& t : gguf_tensors_->views) {
    if (!tensors_.emplace(t.name, &t).second) {
      throw invalid_argument(file.string() + ": two tensors are both '" + t.name +
                             "' (attn_kv_b beside attn_k_b and attn_v_b?)");
    }
  }
}

void Checkpoint::open_sharded(const std::filesystem::path& index_path) {
  source_ = index_path;
  sharded_ = true;
  const std::string index_name = index_path.string();
  const json index = detail::parse_json_bounded(detail::read_small_file(index_path, kMaxIndexBytes), index_name,
                                                kMaxIndexDepth);
  if (!index.is_object()) throw invalid_argument(index_name + ": must be a JSON object");
  const auto map_it = index.find("weight_map");
  if (map_it == index.end()) throw invalid_argument(index_name + ": missing 'weight_map'");
  if (!map_it->is_object()) {
    throw invalid_argument(index_name + ": 'weight_map' must be an object, got " +
                           std::string(detail::json_type_name(*map_it)));
  }

  std::map<std::string, SafetensorsFile*> shards;  // each shard file mapped once
  for (const auto& [tensor, shard_value] : map_it->items()) {
    if (!shard_value.is_string()) {
      throw invalid_argument(index_name + ": 'weight_map' entry for tensor '" + tensor + "' must be a string, got " +
                             std::string(detail::json_type_name(shard_value)));
    }
    const auto shard_name = shard_value.get<std::string>();
    if (!is_safe_relative_name(shard_name)) {
      throw invalid_argument(index_name + ": tensor '" + tensor + "' names shard '" + shard_name +
                             "', which is not a file name inside the model directory");
    }
    auto [it, inserted] = shards.try_emplace(shard_name, nullptr);
    if (inserted) {
      const auto shard_path = directory_ / shard_name;
      if (!file_exists(shard_path)) {
        throw not_found(index_name + ": shard '" + shard_name + "' (holding tensor '" + tensor +
                        "') does not exist at " + shard_path.string());
      }
      files_.push_back(std::make_unique<SafetensorsFile>(shard_path));
      it->second = files_.back().get();
    }
    const TensorView* view = it->second->find(tensor);
    if (view == nullptr) {
      throw not_found(index_name + ": tensor '" + tensor + "' is listed in shard '" + shard_name + "', but " +
                      it->second->path().string() + " does not contain it");
    }
    tensors_.emplace(view->name, view);
  }
}

const TensorView* Checkpoint::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

const TensorView& Checkpoint::get(std::string_view name) const {
  if (const TensorView* t = find(name)) return *t;
  throw not_found(source_.string() + ": no tensor '" + std::string(name) + "' in the checkpoint at " +
                  directory_.string());
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& entry : tensors_) out.emplace_back(entry.first);
  std::sort(out.begin(), out.end());
  return out;
}

std::string Checkpoint::where(const TensorView& t) const {
  return t.file != nullptr ? t.file->string() : source_.string();
}

const TensorView* Checkpoint::scale_for(std::string_view name, std::array<std::int64_t, 2> block) const {
  return scale_for(get(name), block);
}

const TensorView* Checkpoint::scale_for(const TensorView& weight, std::array<std::int64_t, 2> block) const {
  if (!is_fp8(weight.dtype)) return nullptr;
  const std::string dtype(safetensors_dtype_name(weight.dtype));
  constexpr std::string_view kSuffix = ".weight";
  if (!weight.name.ends_with(kSuffix)) {
    throw invalid_argument(where(weight) + ": tensor '" + weight.name + "' is " + dtype +
                           " but is not a '.weight'; FP8 is only supported for linear weights with a block scale");
  }
  if (weight.shape.size() != 2) {
    throw invalid_argument(where(weight) + ": tensor '" + weight.name + "' is " + dtype + " with shape " +
                           detail::format_shape(weight.shape) + "; FP8 weights must be 2-D [out, in]");
  }
  const std::string scale_name = weight.name + "_scale_inv";
  const TensorView* scale = find(scale_name);
  if (scale == nullptr) {
    throw not_found(where(weight) + ": tensor '" + weight.name + "' is " + dtype + " but its scale '" + scale_name +
                    "' is not in the checkpoint");
  }
  if (scale->dtype != DType::f32) {
    throw invalid_argument(where(*scale) + ": scale '" + scale_name + "' of FP8 tensor '" + weight.name + "' is " +
                           std::string(safetensors_dtype_name(scale->dtype)) + ", expected F32");
  }
  const std::vector<std::int64_t> expected{detail::ceil_div(weight.shape[0], block[0]),
                                           detail::ceil_div(weight.shape[1], block[1])};
  if (scale->shape != expected) {
    throw invalid_argument(where(*scale) + ": scale '" + scale_name + "' has shape " +
                           detail::format_shape(scale->shape) + " but FP8 tensor '" + weight.name + "' of shape " +
                           detail::format_shape(weight.shape) + " with " + std::to_string(block[0]) + "x" +
                           std::to_string(block[1]) + " blocks needs " + detail::format_shape(expected));
  }
  return scale;
}

}  // namespace fathom::model
