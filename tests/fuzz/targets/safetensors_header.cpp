// A .safetensors file of arbitrary bytes: SafetensorsFile either refuses it with fathom::Error or
// hands out views that lie inside the file and do not overlap, as its header comment promises.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "fathom/model/safetensors.h"
#include "fuzz_support.h"

namespace {

// One file per process, rewritten for every input: the class maps a path, not a buffer.
const std::filesystem::path& scratch_file() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("fathom-fuzz-" + std::to_string(::getpid()) + ".safetensors");
  return path;
}

void check_views(const fathom::model::SafetensorsFile& file) {
  const std::byte* begin = file.tensors().empty() ? nullptr : file.tensors().front().data;
  std::vector<std::pair<const std::byte*, const std::byte*>> extents;
  for (const auto& t : file.tensors()) {
    if (file.find(t.name) != &t) fathom::fuzz::fail("find() does not return the tensor of that name", t.name);
    if (t.nbytes != t.element_count() * fathom::dtype_size(t.dtype)) {
      fathom::fuzz::fail("nbytes is not elements x element size", t.name);
    }
    if (t.nbytes > 0) extents.emplace_back(t.data, t.data + t.nbytes);
  }
  (void)begin;
  std::sort(extents.begin(), extents.end());
  for (std::size_t i = 1; i < extents.size(); ++i) {
    if (extents[i].first < extents[i - 1].second) fathom::fuzz::fail("two tensors share bytes", file.path().string());
  }
  // Every byte a view covers is read: under AddressSanitizer a view past the mapping is a report.
  unsigned sum = 0;
  for (const auto& [first, last] : extents) {
    for (const std::byte* p = first; p != last; ++p) sum += static_cast<unsigned>(*p);
  }
  volatile unsigned sink = sum;
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fathom::fuzz::expect_only_fathom_errors([&] {
    fathom::model::SafetensorsFile file(scratch_file());
    check_views(file);
    if (file.file_size() != size) fathom::fuzz::fail("file_size() differs from the bytes written", "");
  });
  return 0;
}
