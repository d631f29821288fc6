// The DeepSeek-V3 tokenizer from ../shared, loaded once per process, for the targets that encode.
#pragma once

#include "fathom/tokenizer/tokenizer.h"

namespace fathom::fuzz {

inline const tokenizer::Tokenizer& deepseek_tokenizer() {
  static const auto loaded = tokenizer::Tokenizer::load(FATHOM_SHARED_DIR "/models/deepseek-v3-tokenizer");
  return loaded;
}

}  // namespace fathom::fuzz
