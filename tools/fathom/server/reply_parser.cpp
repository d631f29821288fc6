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

// V3's and R1's calls: "function<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```<｜tool▁call▁end｜>".
constexpr std::string_view kV3CallType = "function";
constexpr std::string_view kFenceOpen = "\n```json\n";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Where a fenced call's arguments end in `text` (what followed its opening fence): before a
// closing fence ("\n```", or the start of one) and whitespace after the value; while the call
// may go on (`whole` false), also before the start of <｜tool▁call▁end｜>. What is held back
// goes out once more of the value follows it.
size_t fenced_arguments_end(std::string_view text, bool whole) {
  size_t end = text.size() - (whole ? 0 : partial_marker_tail(text, kToolCallEnd));
  while (end > 0 && is_space(text[end - 1])) --end;
  size_t fence = end;
  while (fence > 0 && text[fence - 1] == '`' && end - fence < 3) --fence;
  if (fence < end && fence > 0 && text[fence - 1] == '\n') return fence - 1;
  return end;
}

}  // namespace

ReplyParser::ReplyParser(Reasoning reasoning, bool tool_calls)
    : phase_(reasoning == Reasoning::none ? Phase::content : Phase::reasoning),
      tool_calls_(tool_calls),
      needs_opening_(reasoning == Reasoning::if_opened) {}

ReplyParts ReplyParser::feed(std::string_view text) {
  if (phase_ == Phase::tool_calls && calls_ == 0) raw_calls_ += text;
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
      pending_.erase(0, begin + kToolCallsBegin.size());
      raw_calls_ = std::string(kToolCallsBegin) + pending_;
      phase_ = Phase::tool_calls;
    } else {
      const size_t keep = (final || !tool_calls_) ? 0 : partial_marker_tail(pending_, kToolCallsBegin);
      out.content += pending_.substr(0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
    }
  }
  if (phase_ == Phase::tool_calls) release_calls(final, out);
  return out;
}

void ReplyParser::begin_call(std::string name, ReplyParts& out) {
  out.calls.push_back({calls_++, std::move(name), {}});
  raw_calls_.clear();  // a call began: the markers are no longer content
}

void ReplyParser::add_arguments(std::string_view text, ReplyParts& out) {
  if (!text.empty()) append_call_piece(out.calls, {calls_ - 1, std::nullopt, std::string(text)});
}

void ReplyParser::release_calls(bool final, ReplyParts& out) {
  while (true) {
    switch (call_phase_) {
      case CallPhase::between: {
        const size_t begin = pending_.find(kToolCallBegin);
        const size_t end = pending_.find(kToolCallsEnd);
        if (end != std::string::npos && end < begin) {
          call_phase_ = CallPhase::done;
          break;
        }
        if (begin == std::string::npos) {
          // Text between calls is not part of any; keep what may begin a marker.
          const size_t keep = std::max(partial_marker_tail(pending_, kToolCallBegin),
                                       partial_marker_tail(pending_, kToolCallsEnd));
          pending_.erase(0, pending_.size() - keep);
          return;
        }
        pending_.erase(0, begin + kToolCallBegin.size());
        call_phase_ = CallPhase::header;
        break;
      }
      case CallPhase::header: {
        const size_t sep = pending_.find(kToolSep);
        const size_t end = pending_.find(kToolCallEnd);
        if (end != std::string::npos && end < sep) {  // no name: not a call
          pending_.erase(0, end + kToolCallEnd.size());
          call_phase_ = CallPhase::between;
          break;
        }
        if (sep == std::string::npos) return;
        std::string left = pending_.substr(0, sep);
        pending_.erase(0, sep + kToolSep.size());
        if (left == kV3CallType) {
          call_phase_ = CallPhase::fenced_name;
        } else {  // V3.1: "NAME<｜tool▁sep｜>ARGUMENTS"
          begin_call(std::move(left), out);
          fenced_ = false;
          call_phase_ = CallPhase::arguments;
        }
        break;
      }
      case CallPhase::fenced_name: {
        const size_t fence = pending_.find(kFenceOpen);
        const size_t end = pending_.find(kToolCallEnd);
        if (fence != std::string::npos && fence < end) {
          begin_call(pending_.substr(0, fence), out);
          pending_.erase(0, fence + kFenceOpen.size());
          fenced_ = true;
          call_phase_ = CallPhase::arguments;
        } else if (end != std::string::npos) {  // no fence: V3.1's form of a function named "function"
          begin_call(std::string(kV3CallType), out);
          add_arguments(std::string_view(pending_).substr(0, end), out);
          pending_.erase(0, end + kToolCallEnd.size());
          call_phase_ = CallPhase::between;
        } else {
          return;  // the name is not known yet
        }
        break;
      }
      case CallPhase::arguments: {
        const size_t end = pending_.find(kToolCallEnd);
        if (end != std::string::npos) {
          const std::string_view arguments = std::string_view(pending_).substr(0, end);
          add_arguments(arguments.substr(0, fenced_ ? fenced_arguments_end(arguments, true) : end), out);
          pending_.erase(0, end + kToolCallEnd.size());
          call_phase_ = CallPhase::between;
          break;
        }
        // Release what cannot be the call's end; at the end of the reply (cut off) the held tail
        // is dropped: it would have closed the arguments.
        const size_t ready = fenced_ ? fenced_arguments_end(pending_, false)
                                     : pending_.size() - partial_marker_tail(pending_, kToolCallEnd);
        add_arguments(std::string_view(pending_).substr(0, ready), out);
        pending_.erase(0, final ? pending_.size() : ready);
        return;
      }
      case CallPhase::done:
        pending_.clear();  // text after the calls
        return;
    }
  }
}

ReplyParser::Final ReplyParser::finish() {
  Final f;
  f.rest = release(true);
  f.called = calls_ > 0;
  if (phase_ == Phase::tool_calls && calls_ == 0) f.rest.content += raw_calls_;  // markers, but no call
  pending_.clear();
  return f;
}

}  // namespace fathom::server
