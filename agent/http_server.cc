#include "agent/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "operator/runtime/http_server.h"

namespace shardcast::agent {
namespace {

constexpr std::size_t kMaxHead = 16 * 1024;
constexpr std::size_t kMaxBody = 64 * 1024;
constexpr int kMaxConnections = 64;

const char* Reason(int status) {
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
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return status < 500 ? "Error" : "Internal Server Error";
  }
}

void WriteAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

Result<HttpRequest> ParseHttpRequest(const std::string& raw, std::size_t max_body) {
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (raw.size() > kMaxHead) return unexpected(Error{"head: too large"});
    return unexpected(Error{"incomplete"});
  }
  HttpRequest req;
  const auto line_end = raw.find("\r\n");
  const std::string line = raw.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    return unexpected(Error{"request line: malformed"});
  }
  req.method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  std::size_t length = 0;
  std::size_t pos = line_end + 2;
  while (pos < head_end) {
    auto e = raw.find("\r\n", pos);
    std::string h = raw.substr(pos, e - pos);
    pos = e + 2;
    const auto colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = h.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "content-length") {
      try {
        length = std::stoul(h.substr(colon + 1));
      } catch (...) {
        return unexpected(Error{"content-length: not a number"});
      }
    }
  }
  if (length > max_body) return unexpected(Error{"body: larger than the limit"});
  if (raw.size() < head_end + 4 + length) return unexpected(Error{"incomplete"});
  req.body = raw.substr(head_end + 4, length);
  return req;
}

HookHttpServer::HookHttpServer(std::string address, Handler handler)
    : address_(std::move(address)), handler_(std::move(handler)) {}

HookHttpServer::~HookHttpServer() { Stop(); }

Result<void> HookHttpServer::Start() {
  auto addr = runtime::parse_listen_address(address_);
  if (!addr) return unexpected(Error{"listen: " + addr.error().message});
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) return unexpected(Error{"listen: socket: " + std::string(strerror(errno))});
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(addr->port);
  const std::string host = addr->host.empty() ? "0.0.0.0" : addr->host;
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return unexpected(Error{"listen: host must be an IPv4 address, got \"" + host + "\""});
  }
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    return unexpected(Error{"listen: bind " + address_ + ": " + std::string(strerror(errno))});
  }
  socklen_t len = sizeof(sa);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return {};
}

void HookHttpServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  while (active_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void HookHttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    if (active_.load() >= kMaxConnections) {
      WriteAll(
          fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      ::close(fd);
      continue;
    }
    ++active_;
    std::thread([this, fd] {
      Serve(fd);
      ::close(fd);
      --active_;
    }).detach();
  }
}

void HookHttpServer::Serve(int fd) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string raw;
  char buf[8192];
  Result<HttpRequest> req = unexpected(Error{"incomplete"});
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    raw.append(buf, static_cast<std::size_t>(n));
    req = ParseHttpRequest(raw, kMaxBody);
    if (req || req.error().message != "incomplete") break;
  }
  HttpAnswer ans;
  if (!req) {
    ans = {400, "{\"error\":\"" + req.error().message + "\"}"};
  } else {
    try {
      ans = handler_(*req);
    } catch (const std::exception& e) {
      ans = {500, std::string("{\"error\":\"internal: ") + e.what() + "\"}"};
    }
  }
  std::string out = "HTTP/1.1 " + std::to_string(ans.status) + " " + Reason(ans.status) +
                    "\r\nContent-Type: " + ans.content_type +
                    "\r\nContent-Length: " + std::to_string(ans.body.size()) +
                    "\r\nConnection: close\r\n\r\n" + ans.body;
  WriteAll(fd, out);
}

}  // namespace shardcast::agent
