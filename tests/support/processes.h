// Test fixtures for the data plane: real redis-server and shardcast-agent
// processes on free loopback ports in a temp dir, killed at the end; a tiny
// HTTP client; polling with a deadline. Header-only.
#pragma once

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace shardcast::testsupport {

inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

// Polls `cond` every 20 ms until it holds or `timeout` passes.
inline bool WaitUntil(const std::function<bool()>& cond,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

inline std::filesystem::path MakeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + ".XXXXXX")).string();
  return std::filesystem::path(::mkdtemp(tmpl.data()));
}

// A child process, killed (SIGKILL) and reaped on destruction.
class Process {
 public:
  Process() = default;
  explicit Process(std::vector<std::string> argv, const std::string& log) { Start(argv, log); }
  ~Process() { Kill(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void Start(const std::vector<std::string>& argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      FILE* f = std::fopen(log.c_str(), "a");
      if (f != nullptr) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      ::execvp(args[0], args.data());
      std::_Exit(127);
    }
  }
  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// A synchronous hiredis connection for test assertions.
class RedisClient {
 public:
  explicit RedisClient(int port) {
    timeval tv{5, 0};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (ctx_ != nullptr && ctx_->err == 0) redisSetTimeout(ctx_, tv);
  }
  ~RedisClient() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }

  struct Rep {
    int type = REDIS_REPLY_NIL;
    std::string str;
    long long integer = 0;
    std::vector<Rep> elements;
    bool err() const { return type == REDIS_REPLY_ERROR; }
    bool nil() const { return type == REDIS_REPLY_NIL; }
  };
  Rep Cmd(const std::vector<std::string>& argv) {
    Rep out;
    if (!ok()) {
      out.type = REDIS_REPLY_ERROR;
      out.str = "not connected";
      return out;
    }
    std::vector<const char*> p;
    std::vector<size_t> l;
    for (const auto& a : argv) {
      p.push_back(a.data());
      l.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), p.data(), l.data()));
    if (r == nullptr) {
      out.type = REDIS_REPLY_ERROR;
      out.str = "connection error";
      return out;
    }
    out = Convert(r);
    freeReplyObject(r);
    return out;
  }

 private:
  static Rep Convert(const redisReply* r) {
    Rep o;
    o.type = r->type;
    if (r->str != nullptr) o.str.assign(r->str, r->len);
    o.integer = r->integer;
    for (size_t i = 0; i < r->elements; ++i) o.elements.push_back(Convert(r->element[i]));
    return o;
  }
  redisContext* ctx_ = nullptr;
};

// redis-server on a free loopback port, no persistence, in its own dir.
class RedisServer {
 public:
  explicit RedisServer(const std::filesystem::path& root) : port_(FreePort()) {
    dir_ = root / ("redis-" + std::to_string(port_));
    std::filesystem::create_directories(dir_);
    proc_.Start({"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save",
                 "", "--appendonly", "no", "--dir", dir_.string()},
                (dir_ / "redis.log").string());
    WaitUntil([this] { return RedisClient(port_).Cmd({"PING"}).str == "PONG"; });
  }
  int port() const { return port_; }
  pid_t pid() const { return proc_.pid(); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  std::filesystem::path dir_;
  Process proc_;
};

// Minimal HTTP/1.1 client (Connection: close). status 0 on transport error.
struct HttpResult {
  int status = 0;
  std::string body;
};
inline HttpResult HttpCall(int port, const std::string& method, const std::string& path,
                           const std::string& body = "") {
  HttpResult res;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return res;
  }
  const std::string req = method + " " + path +
                          " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n" + body;
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const auto sp = raw.find(' ');
  const auto head_end = raw.find("\r\n\r\n");
  if (sp == std::string::npos || head_end == std::string::npos) return res;
  res.status = std::atoi(raw.c_str() + sp + 1);
  res.body = raw.substr(head_end + 4);
  return res;
}

// shardcast-agent beside one redis-server.
class AgentProcess {
 public:
  AgentProcess(const std::filesystem::path& root, int redis_port,
               std::vector<std::string> extra = {})
      : redis_port_(redis_port),
        extra_(std::move(extra)),
        port_(FreePort()),
        metrics_port_(FreePort()),
        log_((root / ("agent-" + std::to_string(port_) + ".log")).string()) {
    Start();
  }
  void Start() {
    std::vector<std::string> argv = {SHARDCAST_AGENT_BIN,
                                     "--redis",
                                     "127.0.0.1:" + std::to_string(redis_port_),
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--metrics-bind-address",
                                     "127.0.0.1:" + std::to_string(metrics_port_)};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    proc_.Start(argv, log_);
    WaitUntil([this] { return HttpCall(port_, "GET", "/healthz").status == 200; });
  }
  void Kill() { proc_.Kill(); }
  void Restart() {
    Kill();
    Start();
  }
  void Signal(int sig) const { proc_.Signal(sig); }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return proc_.pid(); }
  HttpResult Post(const std::string& hook, const std::string& body) const {
    return HttpCall(port_, "POST", "/shardcast/" + hook, body);
  }
  HttpResult Get(const std::string& path) const { return HttpCall(port_, "GET", path); }

 private:
  int redis_port_;
  std::vector<std::string> extra_;
  int port_;
  int metrics_port_;
  std::string log_;
  Process proc_;
};

}  // namespace shardcast::testsupport
