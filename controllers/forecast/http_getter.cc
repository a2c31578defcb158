#include "controllers/forecast/http_getter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shardcast::forecast {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

Result<std::string> PlainHttpGetter::get(const std::string& host, int port,
                                         const std::string& path,
                                         std::chrono::milliseconds timeout) {
  const std::string where = "http://" + host + ":" + std::to_string(port) + path;
  if (port <= 0 || port > 65535) return unexpected(Error{where + ": port out of range"});
  auto deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res); rc != 0 || !res) {
    return unexpected(Error{where + ": resolve: " + gai_strerror(rc)});
  }
  Fd s;
  s.fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    freeaddrinfo(res);
    return unexpected(Error{where + ": socket: " + std::strerror(errno)});
  }
  int rc = ::connect(s.fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    return unexpected(Error{where + ": connect: " + std::strerror(errno)});
  }
  pollfd p{s.fd, POLLOUT, 0};
  if (rc != 0) {
    if (::poll(&p, 1, MsLeft(deadline)) <= 0) return unexpected(Error{where + ": connect timed out"});
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return unexpected(Error{where + ": connect: " + std::strerror(err)});
  }
  std::string req = "GET " + (path.empty() ? std::string("/") : path) +
                    " HTTP/1.0\r\nHost: " + host + "\r\nAccept: text/plain\r\n"
                    "User-Agent: shardcast-forecast\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(s.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return unexpected(Error{where + ": send: " + std::strerror(errno)});
    }
    p = {s.fd, POLLOUT, 0};
    if (::poll(&p, 1, MsLeft(deadline)) <= 0) return unexpected(Error{where + ": send timed out"});
  }
  std::string resp;
  char buf[16384];
  while (true) {
    ssize_t n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      resp.append(buf, static_cast<size_t>(n));
      if (resp.size() > max_body_ + 16384) return unexpected(Error{where + ": response too large"});
      continue;
    }
    if (n == 0) break;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return unexpected(Error{where + ": recv: " + std::strerror(errno)});
    }
    p = {s.fd, POLLIN, 0};
    if (::poll(&p, 1, MsLeft(deadline)) <= 0) return unexpected(Error{where + ": read timed out"});
  }
  size_t eol = resp.find("\r\n");
  if (resp.rfind("HTTP/", 0) != 0 || eol == std::string::npos) {
    return unexpected(Error{where + ": not an HTTP response"});
  }
  size_t sp = resp.find(' ');
  int status = sp < eol ? std::atoi(resp.c_str() + sp + 1) : 0;
  if (status != 200) {
    return unexpected(Error{where + ": HTTP status " + std::to_string(status)});
  }
  size_t hdr_end = resp.find("\r\n\r\n");
  if (hdr_end == std::string::npos) return unexpected(Error{where + ": truncated headers"});
  return resp.substr(hdr_end + 4);
}

std::unique_ptr<HttpGetter> MakePlainHttpGetter() { return std::make_unique<PlainHttpGetter>(); }

}  // namespace shardcast::forecast
