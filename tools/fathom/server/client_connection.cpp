#include "server/client_connection.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace fathom::server {

namespace {

// An address and port written as httplib writes a request's (numeric host).
bool address_of(const sockaddr_storage& addr, socklen_t len, std::string& host, int& port) {
  char name[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, name, sizeof name, service, sizeof service,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  host = name;
  port = std::atoi(service);
  return true;
}

bool is_the_request_socket(int fd, const httplib::Request& request) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  sockaddr_storage local{}, peer{};
  socklen_t local_len = sizeof local, peer_len = sizeof peer;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) return false;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return false;  // listening, or not connected
  std::string local_host, peer_host;
  int local_port = -1, peer_port = -1;
  return address_of(local, local_len, local_host, local_port) && address_of(peer, peer_len, peer_host, peer_port) &&
         local_port == request.local_port && peer_port == request.remote_port && local_host == request.local_addr &&
         peer_host == request.remote_addr;
}

}  // namespace

std::optional<ClientConnection> ClientConnection::of(const httplib::Request& request) {
  if (request.remote_port < 0 || request.local_port < 0) return std::nullopt;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    char* end = nullptr;
    const std::string name = entry.path().filename().string();
    const long fd = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0') continue;
    if (is_the_request_socket(static_cast<int>(fd), request)) return ClientConnection(static_cast<int>(fd));
  }
  return std::nullopt;
}

bool ClientConnection::gone() const {
  pollfd p{fd_, POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace fathom::server
