// A deployment file of arbitrary text: parse_config either refuses it with fathom::Error (naming
// the file, line and key) or returns a Config.
#include "fathom/core/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fathom::fuzz::expect_only_fathom_errors(
      [&] { (void)fathom::parse_config(fathom::fuzz::as_text(data, size), "fuzz/deploy.toml"); });
  return 0;
}
