// Server-sent events framing, as OpenAI streams use it: each event is a `data:` line followed
// by a blank line, and the stream ends with `data: [DONE]`. Comment lines (starting with ':')
// are ignored by clients; the server sends them as heartbeats while a request waits, because
// only a write can tell that the client has gone.
#pragma once

#include <string>
#include <string_view>

namespace fathom::server {

// A payload with line breaks becomes several `data:` lines, which clients join with '\n'.
std::string sse_event(std::string_view payload);
std::string sse_done();
std::string sse_comment(std::string_view text);

inline constexpr const char* kSseContentType = "text/event-stream";

}  // namespace fathom::server
