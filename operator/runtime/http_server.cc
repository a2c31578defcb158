#include "operator/runtime/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

namespace shardcast::runtime {

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// `own_route`: the answer of the server's own GET/HEAD routes (a 405 names
// the methods they take).
std::string serialize(const HttpResponse& r, bool head_only, bool own_route = true) {
  const char* reason = ReasonPhrase(r.status);
  if (std::string_view(reason) == "Unknown" && r.status >= 200 && r.status < 300) reason = "OK";
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (r.status == 405 && own_route) out += "Allow: GET, HEAD\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += r.body;
  return out;
}

int RemainingMs(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on fd, or the wake pipe, or the deadline.
// Returns 1 when fd is ready, 0 on timeout, -1 on wake-up or error.
int WaitFd(int fd, short events, int wake_fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, RemainingMs(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) return 0;
    if (fds[1].revents != 0) return -1;
    if (fds[0].revents & (events | POLLHUP | POLLERR)) return 1;
  }
}

HttpResponse call(const HttpServer::RequestHandler& h, const HttpRequest& req) {
  try {
    return h(req);
  } catch (const std::exception& e) {
    return {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
  } catch (...) {
    return {500, "text/plain; charset=utf-8", "internal error\n"};
  }
}

bool SendAll(int fd, const std::string& data, int wake_fd,
             std::chrono::steady_clock::time_point deadline) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (WaitFd(fd, POLLOUT, wake_fd, deadline) != 1) return false;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

Result<ListenAddress> ParseListenAddress(const std::string& address) {
  ListenAddress out;
  std::string port_text;
  if (!address.empty() && address[0] == '[') {
    const auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':')
      return unexpected(Error{"address \"" + address + "\": expected [ipv6]:port"});
    out.host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos)
      return unexpected(Error{"address \"" + address + "\": expected host:port or :port"});
    out.host = address.substr(0, colon);
    if (out.host.find(':') != std::string::npos)
      return unexpected(Error{"address \"" + address + "\": IPv6 hosts need brackets, [::1]:port"});
    port_text = address.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5)
    return unexpected(Error{"address \"" + address + "\": port must be a number 0..65535"});
  unsigned long port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9')
      return unexpected(Error{"address \"" + address + "\": port must be a number 0..65535"});
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port > 65535)
    return unexpected(Error{"address \"" + address + "\": port must be a number 0..65535"});
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

HttpServer::HttpServer(HttpServerOptions opts, const Registry* registry,
                       std::function<ReadyStatus()> readiness)
    : opts_(std::move(opts)), registry_(registry), readiness_(std::move(readiness)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::handle(const std::string& path, Handler handler) {
  std::lock_guard<std::mutex> g(lifecycle_mu_);
  if (!started_) handlers_[path] = std::move(handler);
}

void HttpServer::HandleRequests(const std::string& path, RequestHandler handler) {
  std::lock_guard<std::mutex> g(lifecycle_mu_);
  if (!started_) request_handlers_[path] = std::move(handler);
}

const HttpServer::RequestHandler* HttpServer::FindRequestHandler(const std::string& path) const {
  for (const auto& [prefix, h] : request_handlers_) {
    if (path == prefix || (!prefix.empty() && prefix.back() == '/' && path.rfind(prefix, 0) == 0))
      return &h;
  }
  return nullptr;
}

namespace {

// A listening non-blocking socket on `addr`; `address` (the option) names
// it in errors.
Result<int> ListenOn(const ListenAddress& addr, const std::string& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(addr.port);
  const int gai = ::getaddrinfo(addr.host.empty() ? nullptr : addr.host.c_str(), port_text.c_str(),
                                &hints, &res);
  if (gai != 0) return unexpected(Error{"address \"" + address + "\": " + ::gai_strerror(gai)});

  // For ":port" prefer the IPv6 wildcard in dual-stack mode; fall back to
  // whatever binds.
  std::vector<addrinfo*> candidates;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (addr.host.empty() && ai->ai_family == AF_INET6)
      candidates.insert(candidates.begin(), ai);
    else
      candidates.push_back(ai);
  }
  int fd = -1;
  std::string last_error = "no usable address";
  for (addrinfo* ai : candidates) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_error = "socket: " + ErrnoText(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6 && addr.host.empty()) {
      int zero = 0;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last_error = "bind: " + ErrnoText(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    if (::listen(fd, 64) != 0) {
      last_error = "listen: " + ErrnoText(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    break;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return unexpected(Error{"address \"" + address + "\": " + last_error});
  return fd;
}

// The port the socket `fd` is bound to.
Result<std::uint16_t> BoundPort(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return unexpected(Error{"http server: getsockname: " + ErrnoText(errno)});
  }
  if (bound.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

}  // namespace

Result<void> HttpServer::start() {
  std::lock_guard<std::mutex> g(lifecycle_mu_);
  if (started_) return unexpected(Error{"http server: already started"});
  if (opts_.max_connections == 0)
    return unexpected(Error{"http server: max_connections must be >= 1"});
  if (opts_.io_timeout.count() <= 0)
    return unexpected(Error{"http server: io_timeout must be > 0"});
  auto addr = ParseListenAddress(opts_.address);
  if (!addr) return unexpected(addr.error());

  auto listening = ListenOn(*addr, opts_.address);
  if (!listening) return unexpected(listening.error());
  const int fd = *listening;
  auto port = BoundPort(fd);
  if (!port) {
    ::close(fd);
    return unexpected(port.error());
  }
  port_.store(*port);

  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    const int err = errno;
    ::close(fd);
    return unexpected(Error{"http server: pipe: " + ErrnoText(err)});
  }
  listen_fd_ = fd;
  try {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::exception& e) {
    ::close(listen_fd_);
    ::close(wake_fds_[0]);
    ::close(wake_fds_[1]);
    listen_fd_ = wake_fds_[0] = wake_fds_[1] = -1;
    return unexpected(Error{std::string("http server: cannot start thread: ") + e.what()});
  }
  started_ = true;
  return {};
}

void HttpServer::stop() {
  std::lock_guard<std::mutex> g(lifecycle_mu_);
  shutting_down_.store(true);
  if (!started_ || stopped_) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  const char b = 'x';
  // The byte stays in the pipe, so every poller sees it.
  while (::write(wake_fds_[1], &b, 1) < 0 && errno == EINTR) {
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  ReapFinished(true);
  ::close(listen_fd_);
  ::close(wake_fds_[0]);
  ::close(wake_fds_[1]);
  listen_fd_ = wake_fds_[0] = wake_fds_[1] = -1;
}

void HttpServer::ReapFinished(bool all) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (all || it->finished->load()) {
      if (it->thread.joinable()) it->thread.join();
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // poll on our own fds failed: nothing sensible left to do
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of resources: back off briefly instead of spinning, but stay
        // responsive to stop().
        pollfd w{wake_fds_[0], POLLIN, 0};
        if (::poll(&w, 1, 100) > 0) return;
      }
      continue;
    }
    try {
      ReapFinished(false);
      if (conns_.size() >= opts_.max_connections) {
        HttpResponse busy{503, "text/plain; charset=utf-8", "too many connections\n"};
        SendAll(fd, serialize(busy, false), wake_fds_[0],
                std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
        ::close(fd);
        continue;
      }
      auto finished = std::make_shared<std::atomic<bool>>(false);
      std::thread t([this, fd, finished] {
        ServeConnection(fd);
        finished->store(true);
      });
      conns_.push_back(Conn{std::move(t), std::move(finished)});
    } catch (...) {
      // Thread creation or allocation failed: drop this connection only.
      ::close(fd);
    }
  }
}

Result<RequestLine> ParseRequestLine(std::string_view head) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? std::string_view::npos : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.compare(sp2 + 1, 5, "HTTP/") != 0) {
    return unexpected(Error{"request line: malformed"});
  }
  RequestLine out;
  out.method = std::string(line.substr(0, sp1));
  out.path = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const auto q = out.path.find('?');
  if (q != std::string::npos) {
    out.query = out.path.substr(q + 1);
    out.path.resize(q);
  }
  return out;
}

Result<std::size_t> ParseContentLength(std::string_view head) {
  const auto end = head.find("\r\n\r\n");
  if (end != std::string_view::npos) head = head.substr(0, end);
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    const std::size_t start = pos + 2;
    pos = head.find("\r\n", start);
    std::string_view h = head.substr(start, pos == std::string_view::npos ? pos : pos - start);
    const auto colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(h.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "content-length") {
      std::string_view v = h.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      if (v.empty() || v.size() > 15) return unexpected(Error{"Content-Length: not a number"});
      std::size_t n = 0;
      for (char c : v) {
        if (c < '0' || c > '9') return unexpected(Error{"Content-Length: not a number"});
        n = n * 10 + static_cast<std::size_t>(c - '0');
      }
      return n;
    }
  }
  return std::size_t{0};
}

int HttpServer::ReadBody(int fd, std::string& req, std::size_t body_start,
                         std::chrono::steady_clock::time_point deadline) {
  auto length = ParseContentLength(std::string_view(req).substr(0, body_start));
  if (!length) return 400;
  if (*length > opts_.max_body_bytes) return 413;
  char buf[8192];
  while (req.size() < body_start + *length) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      req.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return 400;  // closed before the whole body
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return 400;
    const int w = WaitFd(fd, POLLIN, wake_fds_[0], deadline);
    if (w == 0) return 408;
    if (w < 0) return 503;
  }
  req.resize(body_start + *length);
  return 0;
}

void HttpServer::ServeConnection(int fd) {
  try {
    const auto deadline = std::chrono::steady_clock::now() + opts_.io_timeout;
    std::string req;
    char buf[4096];
    std::size_t head_end = std::string::npos;
    int error_status = 0;
    while (head_end == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        req.append(buf, static_cast<std::size_t>(n));
        head_end = req.find("\r\n\r\n");
        if (head_end == std::string::npos && req.size() > opts_.max_request_bytes) {
          error_status = 431;
          break;
        }
        continue;
      }
      if (n == 0) break;  // peer closed before a full request
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        const int w = WaitFd(fd, POLLIN, wake_fds_[0], deadline);
        if (w == 0) {
          error_status = 408;
          break;
        }
        if (w < 0) break;
        continue;
      }
      break;
    }
    HttpResponse resp;
    bool head_only = false;
    bool own_route = true;
    if (error_status != 0) {
      resp = {error_status, "text/plain; charset=utf-8",
              std::string(ReasonPhrase(error_status)) + "\n"};
    } else if (head_end == std::string::npos) {
      ::close(fd);
      return;  // nothing to answer
    } else {
      auto line = ParseRequestLine(req);
      const RequestHandler* handler = line ? FindRequestHandler(line->path) : nullptr;
      if (!line) {
        resp = {400, "text/plain; charset=utf-8", "malformed request line\n"};
      } else if (handler != nullptr) {
        own_route = false;
        head_only = line->method == "HEAD";
        const int status = ReadBody(fd, req, head_end + 4, deadline);
        if (status != 0) {
          resp = {status, "text/plain; charset=utf-8", std::string(ReasonPhrase(status)) + "\n"};
        } else {
          resp = call(*handler,
                      HttpRequest{line->method, line->path, line->query, req.substr(head_end + 4)});
        }
      } else {
        head_only = line->method == "HEAD";
        resp = route(line->method, line->path);
      }
    }
    // A handler may take longer than the read deadline: the reply gets its own.
    const auto write_deadline =
        std::max(deadline, std::chrono::steady_clock::now() + opts_.io_timeout);
    if (SendAll(fd, serialize(resp, head_only, own_route), wake_fds_[0], write_deadline)) {
      ::shutdown(fd, SHUT_WR);
      // Lingering close: read what the client still sends (a body we did not
      // want) until it closes, briefly, so close() does not reset the
      // connection before the client has read the reply.
      const auto linger = std::min(
          write_deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
      std::size_t drained = 0;
      while (drained < 1024 * 1024) {
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
          drained += static_cast<std::size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            WaitFd(fd, POLLIN, wake_fds_[0], linger) == 1)
          continue;
        break;
      }
    }
    served_.fetch_add(1);
  } catch (...) {
    // Transport layer: never let an exception escape a connection thread.
  }
  ::close(fd);
}

HttpResponse HttpServer::route(const std::string& method, const std::string& path) {
  if (method != "GET" && method != "HEAD")
    return {405, "text/plain; charset=utf-8", "method not allowed\n"};
  try {
    if (path == "/metrics") {
      return {200, kPrometheusContentType, registry_ != nullptr ? registry_->render() : ""};
    }
    if (path == "/healthz") {
      if (shutting_down_.load()) return {503, "text/plain; charset=utf-8", "shutting down\n"};
      ReadyStatus st{true, ""};
      if (liveness_) st = liveness_();
      if (st.ready) return {200, "text/plain; charset=utf-8", "ok\n"};
      return {503, "text/plain; charset=utf-8",
              "unhealthy: " + (st.reason.empty() ? std::string("unspecified") : st.reason) + "\n"};
    }
    if (path == "/readyz") {
      if (shutting_down_.load()) return {503, "text/plain; charset=utf-8", "shutting down\n"};
      ReadyStatus st{true, ""};
      if (readiness_) st = readiness_();
      if (st.ready) return {200, "text/plain; charset=utf-8", "ok\n"};
      return {503, "text/plain; charset=utf-8",
              "not ready: " + (st.reason.empty() ? std::string("unspecified") : st.reason) + "\n"};
    }
    auto it = handlers_.find(path);
    if (it != handlers_.end()) return it->second();
    return {404, "text/plain; charset=utf-8", "not found\n"};
  } catch (const std::exception& e) {
    return {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
  } catch (...) {
    return {500, "text/plain; charset=utf-8", "internal error\n"};
  }
}

}  // namespace shardcast::runtime
