#include "fathom/tokenizer/stream_decoder.h"

#include "fathom/tokenizer/utf8.h"

namespace fathom::tokenizer {

std::string StreamDecoder::push(TokenId id) {
  const std::string_view bytes = tokenizer_.token_bytes(id);
  if (skip_special_ && tokenizer_.is_special(id)) return {};
  pending_.append(bytes);
  // Everything up to an unfinished trailing character can go out now; ill-formed
  // bytes before it are final, so replacing them here matches a whole decode().
  const std::size_t ready = utf8::completable_prefix_length(pending_);
  std::string out;
  utf8::append_lossy(out, std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  utf8::append_lossy(out, pending_);
  pending_.clear();
  return out;
}

}  // namespace fathom::tokenizer
