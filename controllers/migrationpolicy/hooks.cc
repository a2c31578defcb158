#include "controllers/migrationpolicy/hooks.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shardcast::migrationpolicy {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

using Clock = std::chrono::steady_clock;

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

class SocketHookClient final : public HookClient {
 public:
  Result<HookResponse> call(const std::string& method, const std::string& endpoint, const std::string& path,
                            const std::string& body, std::chrono::milliseconds timeout) override {
    std::string host, port;
    if (!endpoint.empty() && endpoint[0] == '[') {
      auto close = endpoint.find(']');
      if (close == std::string::npos || close + 2 > endpoint.size() || endpoint[close + 1] != ':') {
        return unexpected(Error{"hook endpoint: malformed \"" + endpoint + "\""});
      }
      host = endpoint.substr(1, close - 1);
      port = endpoint.substr(close + 2);
    } else {
      auto colon = endpoint.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        return unexpected(Error{"hook endpoint: expected host:port, got \"" + endpoint + "\""});
      }
      host = endpoint.substr(0, colon);
      port = endpoint.substr(colon + 1);
    }
    const auto deadline = Clock::now() + timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return unexpected(Error{"hook " + endpoint + ": " + gai_strerror(rc)});
    }
    Fd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
      freeaddrinfo(res);
      return unexpected(Error{std::string("hook socket: ") + std::strerror(errno)});
    }
    int rc = ::connect(fd.get(), res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno != EINPROGRESS) {
      return unexpected(Error{"hook " + endpoint + ": connect: " + std::strerror(errno)});
    }
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, MsLeft(deadline)) <= 0) return unexpected(Error{"hook " + endpoint + ": connect timed out"});
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return unexpected(Error{"hook " + endpoint + ": connect: " + std::strerror(err)});
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + endpoint +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < req.size()) {
      pollfd w{fd.get(), POLLOUT, 0};
      if (::poll(&w, 1, MsLeft(deadline)) <= 0) return unexpected(Error{"hook " + endpoint + path + ": write timed out"});
      ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return unexpected(Error{"hook " + endpoint + path + ": send: " + std::strerror(errno)});
      }
      if (n > 0) sent += static_cast<size_t>(n);
    }
    std::string resp;
    char buf[4096];
    while (true) {
      pollfd r{fd.get(), POLLIN, 0};
      if (::poll(&r, 1, MsLeft(deadline)) <= 0) return unexpected(Error{"hook " + endpoint + path + ": timed out"});
      ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return unexpected(Error{"hook " + endpoint + path + ": recv: " + std::strerror(errno)});
      }
      resp.append(buf, static_cast<size_t>(n));
      if (resp.size() > (1u << 20)) return unexpected(Error{"hook " + endpoint + path + ": response too large"});
    }
    // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
    if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12) {
      return unexpected(Error{"hook " + endpoint + path + ": not an HTTP response"});
    }
    HookResponse out;
    out.status = std::atoi(resp.c_str() + 9);
    auto head_end = resp.find("\r\n\r\n");
    out.body = head_end == std::string::npos ? std::string() : resp.substr(head_end + 4);
    return out;
  }
};

}  // namespace

std::shared_ptr<HookClient> MakeSocketHookClient() { return std::make_shared<SocketHookClient>(); }

}  // namespace shardcast::migrationpolicy
