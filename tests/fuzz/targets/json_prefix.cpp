// JSON mode's recogniser against nlohmann::json's parser, on arbitrary bytes: whatever
// JsonPrefix accepts byte by byte must be a prefix of JSON to nlohmann (it stops only at the end
// of the input), and whatever it calls complete must parse whole, as an object. (The other way,
// that it accepts every valid object within its limits, is what tests/engine/json_mode_test.cpp
// checks on chosen texts.)
#include <string>

#include "../../engine/json_oracle.h"
#include "fathom/engine/json_prefix.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fathom::engine::JsonPrefix state;
  if (!state.feed(text)) return 0;  // refused somewhere: nothing to compare beyond that point
  const fathom::engine::NlohmannVerdict verdict = fathom::engine::nlohmann_verdict(text);
  if (!verdict.prefix) fathom::fuzz::fail("accepted bytes that nlohmann::json says cannot begin JSON", text);
  if (state.complete()) {
    if (!verdict.whole) fathom::fuzz::fail("called complete a text that nlohmann::json does not parse", text);
    if (!nlohmann::json::parse(text).is_object()) fathom::fuzz::fail("called complete a text that is not an object", text);
  }
  return 0;
}
