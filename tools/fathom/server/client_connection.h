// The socket a request came in on, watched for the client going away while a non-streaming
// reply is being generated (a stream notices on its next write; a whole reply writes nothing
// until it is done). cpp-httplib 0.11 does not hand a handler its socket, so it is found among
// the process's descriptors by the request's two addresses and ports.
//
// Gone means the peer closed its side (an HTTP/1.1 client closes the connection it gives up
// on; one that only half-closes after sending its request would be taken as gone, which no
// common client does) or the connection failed: the same signal ASGI servers turn into
// `http.disconnect`, which vLLM aborts a request on.
#pragma once

#include <optional>

namespace httplib {
struct Request;
}

namespace fathom::server {

class ClientConnection {
 public:
  // The request's connection, or nullopt when it cannot be found (then nothing is watched).
  static std::optional<ClientConnection> of(const httplib::Request& request);

  // The client closed the connection or it failed. Does not block.
  bool gone() const;

 private:
  explicit ClientConnection(int fd) : fd_(fd) {}
  int fd_;  // owned by httplib, open for as long as the request's handler runs
};

}  // namespace fathom::server
