// A GGUF model written as parts (llama.cpp's `llama-gguf-split`, or `convert_hf_to_gguf.py
// --split-max-size`): DeepSeek-V3 and R1 are always published so, since one file of 400-1300 GB
// is more than a download or a file system likes.
//
// Every part is a GGUF file of its own whose metadata says where it stands: `split.no` (from 0),
// `split.count` and `split.tensors.count` (the tensors of all parts together). The first part
// holds the model's metadata (config, tokenizer); every part holds some of the tensors. The parts
// are named `PREFIX-00001-of-00009.gguf` ... `PREFIX-00009-of-00009.gguf`, which is how the others
// are found from any one of them, as llama.cpp does.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "fathom/model/gguf.h"

namespace fathom::model {

// The parts of the model `path` belongs to, opened and checked, first part first; a file that is
// not split is its own one part. Any part may be named. Throws naming the file and key when a part
// is missing, mis-numbered or disagrees with the others, or when the tensor count is not the one
// `split.tensors.count` promises; a tensor name found in two parts is left to the caller (it knows
// what the names mean).
std::vector<std::unique_ptr<GgufFile>> open_gguf_parts(const std::filesystem::path& path);

// The part holding the model's metadata: `path` itself unless it is a later part of a split
// model, then the first part (found by name and checked to be part 1 of the same count).
std::unique_ptr<GgufFile> open_gguf_metadata(const std::filesystem::path& path);

}  // namespace fathom::model
