#include "server/reply_reader.h"

namespace fathom::server {

ReplyReader::ReplyReader(std::optional<ReplyParser> parser, std::optional<ForcedToolChoice> forced)
    : parser_(std::move(parser)) {
  if (forced) forced_.emplace(std::move(*forced));
}

ReplyParts ReplyReader::feed(std::string_view text) {
  ReplyParts parts = parser_ ? parser_->feed(text) : ReplyParts{{}, std::string(text), {}};
  if (forced_) {
    for (ToolCallDelta& piece : forced_->feed(parts.content)) append_call_piece(parts.calls, std::move(piece));
    parts.content.clear();
  }
  return parts;
}

ReplyParser::Final ReplyReader::finish() {
  ReplyParser::Final f = parser_ ? parser_->finish() : ReplyParser::Final{};
  if (forced_) {
    for (ToolCallDelta& piece : forced_->feed(f.rest.content)) append_call_piece(f.rest.calls, std::move(piece));
    f.rest.content = forced_->called() ? std::string() : forced_->text();
    f.called = forced_->called();
  }
  return f;
}

}  // namespace fathom::server
