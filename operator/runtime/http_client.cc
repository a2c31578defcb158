#include "operator/runtime/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace shardcast::runtime {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int MsLeft(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Connects a non-blocking socket to host:port before `deadline`.
Result<void> Connect(Fd& s, const HttpCall& c, const std::string& where,
                     SteadyClock::time_point deadline) {
  if (c.port <= 0 || c.port > 65535) return unexpected(Error{where + ": port out of range"});
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(c.port);
  if (int rc = getaddrinfo(c.host.c_str(), port.c_str(), &hints, &res); rc != 0 || res == nullptr) {
    return unexpected(Error{where + ": resolve: " + gai_strerror(rc)});
  }
  s.fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    freeaddrinfo(res);
    return unexpected(Error{where + ": socket: " + std::strerror(errno)});
  }
  int rc = ::connect(s.fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS)
    return unexpected(Error{where + ": connect: " + std::strerror(errno)});
  if (rc != 0) {
    pollfd p{s.fd, POLLOUT, 0};
    if (::poll(&p, 1, MsLeft(deadline)) <= 0)
      return unexpected(Error{where + ": connect timed out"});
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return unexpected(Error{where + ": connect: " + std::strerror(err)});
  }
  return {};
}

Result<void> SendAll(int fd, const std::string& req, const std::string& where,
                     SteadyClock::time_point deadline) {
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return unexpected(Error{where + ": send: " + std::strerror(errno)});
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, MsLeft(deadline)) <= 0) return unexpected(Error{where + ": send timed out"});
  }
  return {};
}

Result<std::string> ReadAll(int fd, size_t max, const std::string& where,
                            SteadyClock::time_point deadline) {
  std::string resp;
  char buf[16384];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      resp.append(buf, static_cast<size_t>(n));
      if (resp.size() > max) return unexpected(Error{where + ": response too large"});
      continue;
    }
    if (n == 0) return resp;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return unexpected(Error{where + ": recv: " + std::strerror(errno)});
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, MsLeft(deadline)) <= 0) return unexpected(Error{where + ": read timed out"});
  }
}

std::string RequestText(const HttpCall& c) {
  std::string req = c.method + " " + (c.path.empty() ? std::string("/") : c.path) +
                    (c.http11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n") + "Host: " + c.host + ":" +
                    std::to_string(c.port) + "\r\nUser-Agent: shardcast\r\nConnection: close\r\n";
  if (!c.accept.empty()) req += "Accept: " + c.accept + "\r\n";
  if (!c.content_type.empty()) req += "Content-Type: " + c.content_type + "\r\n";
  if (!c.body.empty() || c.method != "GET")
    req += "Content-Length: " + std::to_string(c.body.size()) + "\r\n";
  return req + "\r\n" + c.body;
}

class PlainHttpClient final : public HttpClient {
 public:
  explicit PlainHttpClient(size_t max_body) : max_body_(max_body) {}

  Result<HttpAnswer> call(const HttpCall& c) override {
    const std::string where = "http://" + c.host + ":" + std::to_string(c.port) + c.path;
    const auto deadline = SteadyClock::now() + c.timeout;
    Fd s;
    if (auto r = Connect(s, c, where, deadline); !r) return unexpected(r.error());
    if (auto r = SendAll(s.fd, RequestText(c), where, deadline); !r) return unexpected(r.error());
    auto resp = ReadAll(s.fd, max_body_ + 16384, where, deadline);
    if (!resp) return unexpected(resp.error());
    size_t eol = resp->find("\r\n");
    if (resp->rfind("HTTP/", 0) != 0 || eol == std::string::npos) {
      return unexpected(Error{where + ": not an HTTP response"});
    }
    size_t hdr_end = resp->find("\r\n\r\n");
    if (hdr_end == std::string::npos) return unexpected(Error{where + ": truncated headers"});
    size_t sp = resp->find(' ');
    HttpAnswer out;
    out.status = sp < eol ? std::atoi(resp->c_str() + sp + 1) : 0;
    out.body = resp->substr(hdr_end + 4);
    return out;
  }

 private:
  size_t max_body_;
};

}  // namespace

std::unique_ptr<HttpClient> MakePlainHttpClient(size_t max_body) {
  return std::make_unique<PlainHttpClient>(max_body);
}

Result<std::pair<std::string, int>> SplitEndpoint(const std::string& endpoint) {
  std::string host, port;
  if (!endpoint.empty() && endpoint[0] == '[') {
    auto close = endpoint.find(']');
    if (close == std::string::npos || close + 2 > endpoint.size() || endpoint[close + 1] != ':') {
      return unexpected(Error{"endpoint: malformed \"" + endpoint + "\""});
    }
    host = endpoint.substr(1, close - 1);
    port = endpoint.substr(close + 2);
  } else {
    auto colon = endpoint.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return unexpected(Error{"endpoint: expected host:port, got \"" + endpoint + "\""});
    }
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || end == nullptr || *end != '\0' || p <= 0 || p > 65535) {
    return unexpected(Error{"endpoint: bad port in \"" + endpoint + "\""});
  }
  return std::make_pair(host, static_cast<int>(p));
}

}  // namespace shardcast::runtime
