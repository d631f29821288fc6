// A model's reply of arbitrary bytes read the way the server splits chat replies: by the reply
// parser (reasoning, content, DeepSeek's tool-call markers) or, under a forced tool_choice, by
// the forced-call reader. The first byte picks the reader and the size of the pieces the reply
// is streamed in. The property: the pieces put together are the whole reply's parts, and every
// call is named by its first piece before any of its arguments.
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "server/forced_tool_calls.h"
#include "server/reply_parser.h"

namespace {

using fathom::server::ToolCallDelta;

struct Parts {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> pieces;
  bool called = false;
};

void add(Parts& out, fathom::server::ReplyParts parts) {
  out.reasoning += parts.reasoning;
  out.content += parts.content;
  out.pieces.insert(out.pieces.end(), parts.calls.begin(), parts.calls.end());
}

Parts parse(fathom::server::Reasoning reasoning, std::string_view text, size_t piece) {
  fathom::server::ReplyParser parser(reasoning, true);
  Parts out;
  for (size_t at = 0; at < text.size(); at += piece) add(out, parser.feed(text.substr(at, piece)));
  const auto rest = parser.finish();
  add(out, rest.rest);
  out.called = rest.called;
  return out;
}

Parts read_forced(const fathom::server::ForcedToolChoice& choice, std::string_view text, size_t piece) {
  fathom::server::ForcedCallReader reader(choice);
  Parts out;
  for (size_t at = 0; at < text.size(); at += piece) {
    for (ToolCallDelta& d : reader.feed(text.substr(at, piece))) out.pieces.push_back(std::move(d));
  }
  out.called = reader.called();
  return out;
}

void check_named_first(const std::vector<ToolCallDelta>& pieces, std::string_view text) {
  size_t named = 0;
  for (const ToolCallDelta& d : pieces) {
    if (d.name ? d.index != named++ : d.index + 1 != named) {
      fathom::fuzz::fail("a call's pieces out of turn", text);
    }
  }
}

void check_same(const Parts& whole, const Parts& streamed, std::string_view text) {
  const auto calls = fathom::server::join_call_deltas(whole.pieces);
  const auto streamed_calls = fathom::server::join_call_deltas(streamed.pieces);
  bool same = whole.reasoning == streamed.reasoning && whole.content == streamed.content &&
              whole.called == streamed.called && calls.size() == streamed_calls.size();
  for (size_t i = 0; same && i < calls.size(); ++i) {
    same = calls[i].name == streamed_calls[i].name && calls[i].arguments == streamed_calls[i].arguments;
  }
  if (!same) fathom::fuzz::fail("streamed parts differ from the whole reply's", text);
  if (whole.called != !calls.empty()) fathom::fuzz::fail("called without calls", text);
  check_named_first(streamed.pieces, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const std::string_view text = fathom::fuzz::as_text(data + 1, size - 1);
  const size_t piece = 1 + (mode >> 3) % 8;
  fathom::fuzz::expect_only_fathom_errors([&] {
    switch (mode % 5) {
      case 0:
      case 1:
      case 2: {
        const auto reasoning = static_cast<fathom::server::Reasoning>(mode % 3);
        check_same(parse(reasoning, text, text.size() + 1), parse(reasoning, text, piece), text);
        break;
      }
      default: {
        const fathom::server::ForcedToolChoice choice{mode % 5 == 3 ? "f" : "", true};
        check_same(read_forced(choice, text, text.size() + 1), read_forced(choice, text, piece), text);
      }
    }
  });
  return 0;
}
