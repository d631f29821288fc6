// Incremental decoding for streaming output.
//
// Byte-level tokens often end inside a multi-byte character (a CJK character
// or an emoji is commonly split over two or three tokens). The decoder holds
// such an unfinished tail back and releases it once the character is
// complete, so every string it returns is valid UTF-8 and the concatenation of
// all of them (finish() included) equals decode() of the whole sequence.
#pragma once

#include <memory>
#include <string>

#include "fathom/tokenizer/tokenizer.h"

namespace fathom::tokenizer {

class StreamDecoder {
 public:
  explicit StreamDecoder(Tokenizer tokenizer, bool skip_special_tokens = false)
      : tokenizer_(std::move(tokenizer)), skip_special_(skip_special_tokens) {}

  // Adds one id; returns the text that became complete (often empty for a
  // partial character, possibly several characters). Throws out_of_range for an unknown id.
  std::string push(TokenId id);

  // Ends the stream: a held, never-completed tail comes out as U+FFFD. The
  // decoder is then empty and can be reused.
  std::string finish();

  // Bytes held back, waiting for the rest of a character (0..3).
  std::size_t pending_bytes() const { return pending_.size(); }

 private:
  Tokenizer tokenizer_;  // shares the tokenizer's state: the decoder may outlive the original
  bool skip_special_;
  std::string pending_;
};

}  // namespace fathom::tokenizer
