// A .safetensors file of arbitrary bytes: SafetensorsFile either refuses it with fathom::Error or
// hands out views that lie inside the file and do not overlap, as its header comment promises.
// Where each view should point is worked out here again from the input (nlohmann::json over the
// header, without the class's checks): a view must hold exactly the input's bytes at its
// data_offsets, and those offsets must lie inside the input.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fathom/model/safetensors.h"
#include "fuzz_support.h"

namespace {

// The class maps a path, not a buffer.
const std::filesystem::path& scratch_file() {
  static const fathom::fuzz::ScratchFile file(".safetensors");
  return file.path();
}

// The bytes of the input that tensor `name` should hold, as its header entry says.
std::string_view expected_bytes(const std::uint8_t* data, std::size_t size, const std::string& name) {
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
  const auto header = nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(data) + 8, header_len));
  const auto& offsets = header.at(name).at("data_offsets");
  const auto begin = offsets.at(0).get<std::uint64_t>(), end = offsets.at(1).get<std::uint64_t>();
  const std::uint64_t data_section = 8 + header_len;
  if (begin > end || end > size - data_section) fathom::fuzz::fail("a view was handed out for bytes past the file", name);
  return {reinterpret_cast<const char*>(data) + data_section + begin, end - begin};
}

void check_views(const fathom::model::SafetensorsFile& file, const std::uint8_t* data, std::size_t size) {
  std::vector<std::pair<const std::byte*, const std::byte*>> extents;
  for (const auto& t : file.tensors()) {
    if (file.find(t.name) != &t) fathom::fuzz::fail("find() does not return the tensor of that name", t.name);
    if (t.nbytes != t.element_count() * fathom::dtype_size(t.dtype)) {
      fathom::fuzz::fail("nbytes is not elements x element size", t.name);
    }
    const std::string_view expected = expected_bytes(data, size, t.name);
    if (expected.size() != t.nbytes || std::memcmp(expected.data(), t.data, t.nbytes) != 0) {
      fathom::fuzz::fail("a view does not hold the bytes its data_offsets name", t.name);
    }
    if (t.nbytes > 0) extents.emplace_back(t.data, t.data + t.nbytes);
  }
  std::sort(extents.begin(), extents.end());
  for (std::size_t i = 1; i < extents.size(); ++i) {
    if (extents[i].first < extents[i - 1].second) fathom::fuzz::fail("two tensors share bytes", file.path().string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fathom::fuzz::expect_only_fathom_errors([&] {
    fathom::model::SafetensorsFile file(scratch_file());
    check_views(file, data, size);
    if (file.file_size() != size) fathom::fuzz::fail("file_size() differs from the bytes written", "");
  });
  return 0;
}
