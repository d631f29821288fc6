// DeepSeek-V3's pre-tokenizer as its tokenizer.json states it (spec §5): three regex splits, then
// the byte-level mapping. A GGUF file names it ("deepseek-v3") instead of stating it, and the demo
// model's tokenizer writes it out.
#pragma once

#include <nlohmann/json.hpp>

namespace fathom::tokenizer {

nlohmann::json deepseek_v3_pre_tokenizer();

// DeepSeek-V2's and V2-Lite's (and DeepSeek LLM's): six regex splits, then the byte-level mapping.
// GGUF files name it "deepseek-llm".
nlohmann::json deepseek_llm_pre_tokenizer();

}  // namespace fathom::tokenizer
