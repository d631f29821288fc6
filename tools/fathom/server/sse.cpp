#include "server/sse.h"

namespace fathom::server {

std::string sse_event(std::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 8);
  size_t start = 0;
  while (true) {
    const size_t end = payload.find('\n', start);
    frame += "data: ";
    frame += payload.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    frame += '\n';
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  frame += '\n';
  return frame;
}

std::string sse_done() { return sse_event("[DONE]"); }

std::string sse_comment(std::string_view text) {
  std::string frame = ": ";
  for (char c : text) frame += c == '\n' ? ' ' : c;
  frame += "\n\n";
  return frame;
}

}  // namespace fathom::server
