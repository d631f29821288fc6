// How one chat choice's text becomes the response's parts: reasoning_content,
// content and tool_calls. A ReplyParser splits off the reasoning and DeepSeek's
// tool-call markers; under a tool_choice that forces calls, what follows the
// reasoning is the calls' JSON, which a ForcedCallReader reads. Fed piece by
// piece for a stream, or whole.
#pragma once

#include <optional>
#include <string_view>

#include "server/forced_tool_calls.h"
#include "server/reply_parser.h"

namespace fathom::server {

class ReplyReader {
 public:
  // `parser`: how reasoning and markers are split (none: all text is content); `forced`: the
  // content is forced calls.
  ReplyReader(std::optional<ReplyParser> parser, std::optional<ForcedToolChoice> forced);

  ReplyParts feed(std::string_view text);

  // The rest, and whether the reply made calls. A forced reply cut off before its first call
  // has its text as content.
  ReplyParser::Final finish();

 private:
  std::optional<ReplyParser> parser_;
  std::optional<ForcedCallReader> forced_;
};

}  // namespace fathom::server
