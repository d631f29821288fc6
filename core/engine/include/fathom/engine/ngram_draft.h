// Prompt-lookup drafting (Speculation::ngram): text that repeats itself — code being edited, a
// document being quoted or summarised — is drafted from its own earlier occurrence, with no draft
// model at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace fathom::engine {

// The tokens that followed the latest earlier occurrence of the sequence's last n tokens, for the
// longest n ≤ max_n that occurs, at most `count` of them; empty when none occurs. The sequence is
// `prompt` followed by `output`.
std::vector<int32_t> ngram_drafts(std::span<const int32_t> prompt, std::span<const int32_t> output, size_t max_n,
                                  size_t count);

}  // namespace fathom::engine
