#include "server/reply_parser.h"

#include <algorithm>

namespace fathom::server {

namespace {

// Length of the longest tail of `text` that is a proper prefix of `marker`:
// what must be held back because the next piece may complete the marker.
size_t partial_marker_tail(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
    if (marker.starts_with(text.substr(text.size() - n))) return n;
  }
  return 0;
}

// One call's text between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>.
bool parse_call(std::string_view inner, ParsedToolCall& call) {
  const size_t sep = inner.find(kToolSep);
  if (sep == std::string_view::npos) return false;
  const std::string_view left = inner.substr(0, sep);
  const std::string_view right = inner.substr(sep + kToolSep.size());
  // V3 and R1: "function<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```".
  constexpr std::string_view kFenceOpen = "\n```json\n";
  constexpr std::string_view kFenceClose = "\n```";
  if (left == "function") {
    const size_t open = right.find(kFenceOpen);
    const size_t close = right.rfind(kFenceClose);
    if (open != std::string_view::npos && close != std::string_view::npos && close >= open + kFenceOpen.size()) {
      call.name = std::string(right.substr(0, open));
      call.arguments = std::string(right.substr(open + kFenceOpen.size(), close - open - kFenceOpen.size()));
      return !call.name.empty();
    }
  }
  // V3.1: "NAME<｜tool▁sep｜>ARGUMENTS".
  call.name = std::string(left);
  call.arguments = std::string(right);
  return !call.name.empty();
}

std::vector<ParsedToolCall> parse_calls(std::string_view text) {
  std::vector<ParsedToolCall> calls;
  size_t pos = 0;
  while (true) {
    const size_t begin = text.find(kToolCallBegin, pos);
    if (begin == std::string_view::npos) break;
    const size_t start = begin + kToolCallBegin.size();
    const size_t end = text.find(kToolCallEnd, start);
    if (end == std::string_view::npos) break;  // cut off (max_tokens): not a call
    ParsedToolCall call;
    if (parse_call(text.substr(start, end - start), call)) calls.push_back(std::move(call));
    pos = end + kToolCallEnd.size();
  }
  return calls;
}

}  // namespace

ReplyParser::ReplyParser(Reasoning reasoning, bool tool_calls)
    : phase_(reasoning == Reasoning::none ? Phase::content : Phase::reasoning),
      tool_calls_(tool_calls),
      needs_opening_(reasoning == Reasoning::if_opened) {}

ReplyParts ReplyParser::feed(std::string_view text) {
  pending_ += text;
  return release(false);
}

ReplyParts ReplyParser::release(bool final) {
  ReplyParts out;
  if (phase_ == Phase::reasoning) {
    if (at_start_) {
      // A reply may open with "<think>" itself (when the prompt did not).
      if (!final && kThinkOpen.starts_with(pending_)) return out;
      if (pending_.starts_with(kThinkOpen)) {
        pending_.erase(0, kThinkOpen.size());
      } else if (needs_opening_) {
        phase_ = Phase::content;  // no reasoning in this reply
      }
      needs_opening_ = false;
      at_start_ = false;
    }
  }
  if (phase_ == Phase::reasoning) {
    const size_t close = pending_.find(kThinkClose);
    if (close == std::string::npos) {
      const size_t keep = final ? 0 : partial_marker_tail(pending_, kThinkClose);
      out.reasoning = pending_.substr(0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
      return out;
    }
    out.reasoning = pending_.substr(0, close);
    pending_.erase(0, close + kThinkClose.size());
    phase_ = Phase::content;
  }
  if (phase_ == Phase::content) {
    const size_t begin = tool_calls_ ? pending_.find(kToolCallsBegin) : std::string::npos;
    if (begin != std::string::npos) {
      out.content += pending_.substr(0, begin);
      pending_.erase(0, begin);
      phase_ = Phase::tool_calls;
    } else {
      const size_t keep = (final || !tool_calls_) ? 0 : partial_marker_tail(pending_, kToolCallsBegin);
      out.content += pending_.substr(0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
    }
  }
  return out;  // in the tool-call phase everything waits for finish()
}

ReplyParser::Final ReplyParser::finish() {
  Final f;
  f.rest = release(true);
  if (phase_ == Phase::tool_calls) {
    f.calls = parse_calls(pending_);
    if (f.calls.empty()) f.rest.content += pending_;  // markers without a whole call: the text as written
    pending_.clear();
  }
  return f;
}

}  // namespace fathom::server
