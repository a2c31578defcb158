// The one outgoing HTTP client of the operator: hook calls on workload pods
// (MigrationPolicy) and metrics scrapes (forecast). Plain HTTP over POSIX
// sockets (pod IPs, loopback; no TLS, no redirects, Connection: close), the
// whole exchange bounded by one deadline. An interface, so that controllers
// are tested with in-memory doubles.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "util/expected.h"

namespace shardcast::runtime {

struct HttpCall {
  std::string method = "GET";
  std::string host;  // IP literal or name
  int port = 80;
  std::string path = "/";
  std::string body;
  std::string content_type;  // "" = no Content-Type header
  std::string accept;        // "" = no Accept header
  bool http11 = false;       // HTTP/1.1 (hooks) instead of HTTP/1.0 (scrapes: never chunked)
  std::chrono::milliseconds timeout{5000};
};

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Any status is an answer; refused, timeout, garbage and oversized
  // answers are errors naming the URL.
  [[nodiscard]] virtual Result<HttpAnswer> call(const HttpCall& c) = 0;
};

// Bodies above `max_body` bytes are refused.
std::unique_ptr<HttpClient> MakePlainHttpClient(size_t max_body = 8u << 20);

// "host:port" or "[v6]:port" -> {host, port}; errors quote the endpoint.
[[nodiscard]] Result<std::pair<std::string, int>> SplitEndpoint(const std::string& endpoint);

}  // namespace shardcast::runtime
