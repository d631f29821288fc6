// The demo model's tokenizer: a byte-level BPE in DeepSeek-V3's tokenizer.json format (same
// pre-tokenizer, decoder and special tokens, the 256 byte tokens, no merges), with DeepSeek-V3's
// chat template. Loaded by the same code as the real tokenizer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace fathom::tools {

struct TinyTokenizerInfo {
  int64_t vocab_size;  // one past the largest id
  int64_t bos_id;
  int64_t eos_id;
  std::vector<int64_t> printable_ids;  // the byte tokens of printable ASCII (space to '~')
};

TinyTokenizerInfo write_tiny_tokenizer(const std::filesystem::path& dir);

}  // namespace fathom::tools
