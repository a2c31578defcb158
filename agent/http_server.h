// The hook server's HTTP/1.1 transport: GET and POST with a Content-Length
// body, one short-lived thread per connection (capped), Connection: close.
// (operator/runtime's HttpServer serves GET only; the agent uses it for
// /metrics and this one for hooks.)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "operator/util/expected.h"

namespace shardcast::agent {

struct HttpRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', undecoded
  std::string body;
};

struct HttpAnswer {
  int status = 200;
  std::string body;  // JSON
  std::string content_type = "application/json";
};

class HookHttpServer {
 public:
  using Handler = std::function<HttpAnswer(const HttpRequest&)>;
  HookHttpServer(std::string address, Handler handler);
  ~HookHttpServer();
  HookHttpServer(const HookHttpServer&) = delete;
  HookHttpServer& operator=(const HookHttpServer&) = delete;

  // Binds "host:port" or ":port" (port 0 = any free port).
  [[nodiscard]] Result<void> Start();
  std::uint16_t port() const { return port_.load(); }
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);

  std::string address_;
  Handler handler_;
  int listen_fd_ = -1;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
  std::atomic<std::uint16_t> port_{0};
};

// Splits the bytes read so far into a request; nullopt-like error when
// incomplete ("incomplete") or malformed (names the part). Pure.
[[nodiscard]] Result<HttpRequest> ParseHttpRequest(const std::string& raw, std::size_t max_body);

}  // namespace shardcast::agent
