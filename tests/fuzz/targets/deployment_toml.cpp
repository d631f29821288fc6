// A deployment file of arbitrary text, its lines that start with "--set " taken as command-line
// overrides: parse_config either refuses it with fathom::Error (naming the file or override, line
// and key) or returns a Config.
#include <sstream>
#include <string>
#include <vector>

#include "fathom/core/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in{std::string(fathom::fuzz::as_text(data, size))};
  std::string text;
  std::vector<std::string> overrides;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("--set ", 0) == 0) overrides.push_back(line.substr(6));
    else text += line + "\n";
  }
  fathom::fuzz::expect_only_fathom_errors([&] { (void)fathom::parse_config(text, "fuzz/deploy.toml", overrides); });
  return 0;
}
