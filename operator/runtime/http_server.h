// The operator's small HTTP endpoint server: /metrics, /healthz, /readyz.
//
// A minimal HTTP/1.1 server on POSIX sockets (one short-lived thread per
// connection, capped; every response closes the connection). Its own routes
// are for Prometheus scrapes and kubelet probes (GET and HEAD only). Request
// handlers (HandleRequests) also get other methods, the query and a
// Content-Length body: the shard agent serves its POST hooks with them. All
// exceptions are caught in this transport layer.
//
//   HttpServer srv({.address = ":8080"}, &registry,
//                  [&] { return informers_synced() ? ReadyStatus{true, ""}
//                                                  : ReadyStatus{false, "informers not synced"};
//                                                  });
//   if (auto r = srv.start(); !r) { log(r.error().message); }
//   ...
//   srv.stop();
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "operator/runtime/metrics.h"
#include "util/expected.h"

namespace shardcast::runtime {

struct ReadyStatus {
  bool ready = false;
  std::string reason;  // why not ready; sent in the 503 body
};

struct HttpServerOptions {
  // "host:port", ":port" (all interfaces), "[v6addr]:port". Port 0 picks a
  // free port (see HttpServer::port()).
  std::string address = ":8080";
  // Per-connection deadline for reading the request and writing the reply.
  std::chrono::milliseconds io_timeout{5000};
  // Concurrent connections; beyond this, new ones get 503 at once.
  std::size_t max_connections = 32;
  // Largest request head (request line + headers) accepted.
  std::size_t max_request_bytes = 16 * 1024;
  // Largest request body accepted (413 beyond); read only for request
  // handlers, other routes ignore bodies.
  std::size_t max_body_bytes = 1024 * 1024;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Parsed listen address.
struct ListenAddress {
  std::string host;  // empty: all interfaces
  std::uint16_t port = 0;
};
// Parses HttpServerOptions::address; the error names the field "address".
[[nodiscard]] Result<ListenAddress> ParseListenAddress(const std::string& address);

// The request line of a request head ("GET /metrics?x HTTP/1.1\r\n..."):
// method and path without the query. Pure (fuzzed: tests/fuzz).
struct RequestLine {
  std::string method;
  std::string path;
  std::string query;  // after '?', undecoded; empty when none
};
[[nodiscard]] Result<RequestLine> ParseRequestLine(std::string_view head);

// The Content-Length of a request head (0 when absent); the error names
// the header. Pure.
[[nodiscard]] Result<std::size_t> ParseContentLength(std::string_view head);

// A request as a request handler sees it.
struct HttpRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', undecoded
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;
  using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

  // `registry` may be null (then /metrics is empty). `readiness` may be
  // empty (then /readyz reports ready once started).
  HttpServer(HttpServerOptions opts, const Registry* registry,
             std::function<ReadyStatus()> readiness);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Extra GET endpoints (e.g. debug pages); call before start().
  void handle(const std::string& path, Handler handler);
  // Every method on `path`, or, when `path` ends in '/', on every path
  // under it, with the query and the body; checked before the routes above.
  // The handler answers status, type and body (also 405 for a method it
  // does not take). Call before start().
  void HandleRequests(const std::string& path, RequestHandler handler);

  // What /healthz asks (e.g. "no controller worker stuck"); call before
  // start(). Unset: /healthz answers ok until BeginShutdown().
  void set_liveness(std::function<ReadyStatus()> liveness) { liveness_ = std::move(liveness); }

  // Binds and starts serving. Errors name the field (address) or the
  // failing system call.
  [[nodiscard]] Result<void> start();
  // The bound port (useful with port 0); 0 before start().
  std::uint16_t port() const { return port_.load(); }

  // Marks the process as shutting down: /healthz and /readyz answer 503
  // from now on while the server still serves /metrics.
  void BeginShutdown() { shutting_down_.store(true); }
  // Stops accepting, wakes and joins every connection thread. Idempotent.
  void stop();

  // Connections served so far (for tests and debugging).
  std::uint64_t connections_served() const { return served_.load(); }

 private:
  struct Conn {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };

  void AcceptLoop();
  void ServeConnection(int fd);
  HttpResponse route(const std::string& method, const std::string& path);
  const RequestHandler* FindRequestHandler(const std::string& path) const;
  // Reads the rest of a request handler's body; an error status or 0.
  int ReadBody(int fd, std::string& req, std::size_t body_start,
               std::chrono::steady_clock::time_point deadline);
  void ReapFinished(bool all);

  HttpServerOptions opts_;
  const Registry* registry_;
  std::function<ReadyStatus()> readiness_;
  std::function<ReadyStatus()> liveness_;
  std::map<std::string, Handler> handlers_;
  std::map<std::string, RequestHandler> request_handlers_;

  std::mutex lifecycle_mu_;
  bool started_ = false;
  bool stopped_ = false;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // pipe: written once by stop(), polled by all
  std::thread accept_thread_;
  std::vector<Conn> conns_;  // owned by the accept thread until stop() joins it

  std::atomic<std::uint16_t> port_{0};
  std::atomic<bool> shutting_down_{false};
  std::atomic<std::uint64_t> served_{0};
};

}  // namespace shardcast::runtime
