// A tokenizer.json of arbitrary text: parse_tokenizer_json refuses it with fathom::Error or
// returns parts from which a Tokenizer is built that encodes and decodes without crashing.
#include <nlohmann/json.hpp>

#include "fathom/tokenizer/tokenizer.h"
#include "fathom/tokenizer/tokenizer_files.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // What read_json_file does before parsing: malformed JSON is its own, already tested, error.
  const auto json = nlohmann::json::parse(fathom::fuzz::as_text(data, size), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  fathom::fuzz::expect_only_fathom_errors([&] {
    auto model = fathom::tokenizer::parse_tokenizer_json(json, "fuzz/tokenizer.json");
    const fathom::tokenizer::Tokenizer tok(std::move(model), fathom::tokenizer::TokenizerConfig{}, "fuzz/tokenizer_config.json");
    for (std::string_view text : {"Hello, world! 123 4567", "  leading spaces\n\nand lines", "你好，世界 ありがとう"}) {
      const auto ids = tok.encode(text);
      (void)tok.decode(ids);
    }
  });
  return 0;
}
