// Shared by the tokenizer tests: the DeepSeek-V3 tokenizer and test data from ../shared.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "fathom/tokenizer/tokenizer.h"

namespace fathom::tokenizer::testing {

inline const std::filesystem::path kSharedDir = FATHOM_SHARED_DIR;
inline const std::filesystem::path kModelDir = kSharedDir / "models" / "deepseek-v3-tokenizer";
inline const std::filesystem::path kTokenizerData = kSharedDir / "testdata" / "tokenizer";
inline const std::filesystem::path kChatTemplateData = kSharedDir / "testdata" / "chat_template.jsonl";

// The DeepSeek-V3 tokenizer, loaded once per test binary.
const Tokenizer& deepseek_v3();

// Every line of a .jsonl file, parsed.
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);

// A fresh empty directory under the system temp directory, removed at exit of the test binary.
std::filesystem::path make_temp_dir(const std::string& name);

}  // namespace fathom::tokenizer::testing
