// The tokenizer stored in a GGUF model file (see gguf_tokenizer.cpp for what is recovered how).
#pragma once

#include <filesystem>

#include "fathom/tokenizer/tokenizer.h"

namespace fathom::tokenizer {

// Throws fathom::Error naming the file and the GGUF key: not_found when the file carries no
// tokenizer, unsupported for a tokenizer kind or pre-tokenizer Fathom does not implement.
Tokenizer load_gguf_tokenizer(const std::filesystem::path& path);

}  // namespace fathom::tokenizer
