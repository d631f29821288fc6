// A checkpoint whose safetensors header is arbitrary text, checked against the config.json of one
// of the tiny test models (the input's first byte picks which): validate_checkpoint refuses it
// with fathom::Error (naming the tensor and, for a shape, the config fields behind it) or
// accepts it, and then every FP8 weight it accepted has a usable scale and the tensors count.
//
// The header is fuzzed, not the tensor bytes: the harness writes the data section itself, zeros
// up to the furthest data_offsets end the header names (when that is small), so that mutations
// of names, shapes and dtypes reach the checks behind the file layout's.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fathom/model/checkpoint.h"
#include "fathom/model/model_spec.h"
#include "fathom/model/parameter_count.h"
#include "fathom/model/validate_checkpoint.h"
#include "fuzz_support.h"

namespace {

using fathom::model::ModelSpec;

const ModelSpec& tiny_spec(std::uint8_t pick) {
  static const ModelSpec specs[] = {
      fathom::model::load_model_spec(FATHOM_FIXTURES_DIR "/deepseek-v3-tiny-fp8/config.json"),
      fathom::model::load_model_spec(FATHOM_FIXTURES_DIR "/deepseek-v3-tiny/config.json"),
      fathom::model::load_model_spec(FATHOM_FIXTURES_DIR "/deepseek-v2-lite-tiny/config.json"),
  };
  return specs[pick % 3];
}

// The end of the furthest tensor the header names, if it parses and that end is small.
std::uint64_t data_section_size(std::string_view header) {
  constexpr std::uint64_t kMaxData = 8u << 20;
  const auto json = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  std::uint64_t end = 0;
  if (!json.is_object()) return 0;
  for (const auto& [name, entry] : json.items()) {
    if (!entry.is_object()) continue;
    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) continue;
    if ((*offsets)[1].is_number_unsigned()) end = std::max(end, (*offsets)[1].get<std::uint64_t>());
  }
  return end <= kMaxData ? end : 0;
}

const std::filesystem::path& scratch_file() {
  static const fathom::fuzz::ScratchFile file("-checkpoint.safetensors");
  return file.path();
}

void write_checkpoint(std::string_view header) {
  std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
  std::uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xff));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  const std::string zeros(data_section_size(header), '\0');
  out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ModelSpec& spec = tiny_spec(data[0]);
  write_checkpoint(fathom::fuzz::as_text(data + 1, size - 1));
  fathom::fuzz::expect_only_fathom_errors([&] {
    const auto checkpoint = fathom::model::Checkpoint::open(scratch_file());
    const auto report = fathom::model::validate_checkpoint(spec, checkpoint);
    std::size_t fp8 = 0;
    for (const auto& name : checkpoint.names()) {
      const auto& tensor = checkpoint.get(name);
      if (!fathom::model::is_fp8(tensor.dtype) || name.ends_with("_scale_inv")) continue;
      // Unexpected FP8 tensors were noted, not checked; every expected one must have its scale.
      if (std::find(report.unexpected.begin(), report.unexpected.end(), name) != report.unexpected.end()) continue;
      const auto* scale = checkpoint.scale_for(tensor);
      if (scale == nullptr) fathom::fuzz::fail("an accepted FP8 weight has no scale", name);
      ++fp8;
    }
    if (fp8 != report.fp8_weights) fathom::fuzz::fail("the report's FP8 count differs from the weights", "");
    (void)fathom::model::count_checkpoint_parameters(checkpoint, spec);
  });
  return 0;
}
