// A GGUF file of arbitrary bytes: the container reader, the DeepSeek metadata and tensor names
// read from it, and its tokenizer either refuse it with fathom::Error or accept it, and then every
// tensor view lies inside the mapping (read at both ends, so AddressSanitizer sees a stray one)
// and the tokenizer round-trips a short text.
#include <fstream>
#include <string>

#include "fathom/model/checkpoint.h"
#include "fathom/model/gguf.h"
#include "fathom/model/gguf_deepseek.h"
#include "fathom/model/model_spec.h"
#include "fathom/tokenizer/tokenizer.h"
#include "fuzz_support.h"

namespace {

const std::filesystem::path& scratch_file() {
  static const fathom::fuzz::ScratchFile file("-model.gguf");
  return file.path();
}

void touch(const fathom::model::TensorView& t) {
  if (t.nbytes == 0) return;
  volatile std::byte first = t.data[0];
  volatile std::byte last = t.data[t.nbytes - 1];
  static_cast<void>(first);
  static_cast<void>(last);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fathom::fuzz::expect_only_fathom_errors([&] {
    const fathom::model::GgufFile file(scratch_file());
    for (const auto& t : file.tensors()) {
      if (t.nbytes > 0 && (t.data == nullptr)) fathom::fuzz::fail("a tensor with bytes has no data", t.name);
    }
  });
  fathom::fuzz::expect_only_fathom_errors([&] { static_cast<void>(fathom::model::load_model_spec(scratch_file())); });
  fathom::fuzz::expect_only_fathom_errors([&] {
    const auto checkpoint = fathom::model::Checkpoint::open(scratch_file());
    for (const auto& name : checkpoint.names()) touch(checkpoint.get(name));
  });
  fathom::fuzz::expect_only_fathom_errors([&] {
    const auto tok = fathom::tokenizer::Tokenizer::load(scratch_file());
    const std::string text = "Hello, world! 123";
    if (tok.decode(tok.encode(text)) != text) fathom::fuzz::fail("the tokenizer does not round-trip", text);
  });
  return 0;
}
