// Helpers for the weights tests: a temporary directory, a small safetensors writer that can also
// write deliberately broken files, tiny DeepSeek configs, and error assertions.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "fathom/model/expected_tensors.h"
#include "fathom/model/model_spec.h"

namespace fathom::model::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::size_t element_size(std::string_view safetensors_dtype);

// Builds a safetensors file tensor by tensor; data offsets are assigned in order and the bytes
// filled with a pattern. `entry(name)` exposes the header JSON to corrupt it on purpose.
class SafetensorsWriter {
 public:
  SafetensorsWriter& add(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape);
  nlohmann::json& entry(const std::string& name) { return header_[name]; }
  nlohmann::json& header() { return header_; }
  void write(const std::filesystem::path& path) const;

 private:
  nlohmann::json header_ = nlohmann::json::object();
  std::uint64_t data_size_ = 0;
};

// Writes 8-byte length + header text + `data_size` zero bytes, with any length field wanted.
void write_raw_safetensors(const std::filesystem::path& path, std::uint64_t header_length_field,
                           const std::string& header_text, std::size_t data_size);

void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);

// A tiny DeepSeek-V3-shaped config: 3 layers (1 dense), 4 heads, kv_b_proj [128, 32], 4 experts,
// one MTP module. V2 variant: q_lora_rank null, softmax/greedy, no MTP.
nlohmann::json tiny_v3_config();
nlohmann::json tiny_v2_config();

struct CheckpointOptions {
  bool fp8 = false;         // write decoder-layer linears as F8_E4M3 with scales
  bool include_mtp = true;  // write the MTP tensors the config declares
};
// Writes config.json and model.safetensors for `config` into `dir`, with every expected tensor;
// `edit` may change the tensor list (shapes, dtypes, drop entries) before writing.
struct PlannedTensor {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
};
void write_tiny_checkpoint(const std::filesystem::path& dir, const nlohmann::json& config,
                           CheckpointOptions options = {},
                           const std::function<void(std::vector<PlannedTensor>&)>& edit = {});

std::filesystem::path shared_config(std::string_view name);  // ../shared/models/configs/<name>

// Runs `f` and returns the fathom::Error it throws; records a failure if it throws nothing.
fathom::Error error_from(const std::function<void()>& f);

}  // namespace fathom::model::testing

// Expects the expression `statement` to throw fathom::Error with `code` and a message containing
// every string. (The strings are copied: std::string temporaries would not outlive a string_view.)
#define EXPECT_FATHOM_ERROR(statement, error_code, ...)                                                              \
  do {                                                                                                               \
    const ::fathom::Error fathom_err_ = ::fathom::model::testing::error_from([&] { static_cast<void>(statement); }); \
    EXPECT_EQ(fathom_err_.code(), (error_code)) << fathom_err_.what();                                               \
    for (const std::string& part_ : std::initializer_list<std::string>{__VA_ARGS__}) {                               \
      EXPECT_NE(std::string_view(fathom_err_.what()).find(part_), std::string_view::npos)                            \
          << "message lacks \"" << part_ << "\": " << fathom_err_.what();                                            \
    }                                                                                                                \
  } while (0)
