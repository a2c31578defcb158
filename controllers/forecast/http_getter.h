// The HTTP boundary of the sampler: a GET of a pod's Prometheus endpoint.
// Injectable so tests can serve canned text; the real one is a GET through
// the operator's one HTTP client (operator/runtime/http_client.h): HTTP/1.0,
// one deadline for connect + request + response.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "operator/runtime/http_client.h"
#include "util/expected.h"

namespace shardcast::forecast {

class HttpGetter {
 public:
  virtual ~HttpGetter() = default;
  // GET http://host:port/path. Returns the body of a 200 answer; any other
  // outcome (refused, timeout, non-200, oversized) is an error.
  [[nodiscard]] virtual Result<std::string> get(const std::string& host, int port,
                                                const std::string& path,
                                                std::chrono::milliseconds timeout) = 0;
  // POST `body` (application/json) to http://host:port/path, for the shard
  // agent's range sizes (contract C4). Same outcomes as get(). The default
  // refuses (a getter that only scrapes).
  [[nodiscard]] virtual Result<std::string> post(const std::string& host, int port,
                                                 const std::string& path, const std::string& body,
                                                 std::chrono::milliseconds timeout) {
    (void)body, (void)timeout;
    return unexpected(Error{"http://" + host + ":" + std::to_string(port) + path +
                            ": POST not supported by this getter"});
  }
};

// Plain HTTP/1.0 (no TLS, no redirects, no chunked encoding needed) with
// the whole exchange bounded by `timeout`; bodies above `max_body` bytes
// are refused. IPv4 and IPv6 literals and host names are accepted.
class PlainHttpGetter final : public HttpGetter {
 public:
  explicit PlainHttpGetter(size_t max_body = 8u << 20);
  [[nodiscard]] Result<std::string> get(const std::string& host, int port, const std::string& path,
                                        std::chrono::milliseconds timeout) override;
  [[nodiscard]] Result<std::string> post(const std::string& host, int port, const std::string& path,
                                         const std::string& body,
                                         std::chrono::milliseconds timeout) override;

 private:
  std::unique_ptr<runtime::HttpClient> http_;
};

// max_body 32 MiB: a router's /metrics with 4,096 ranges (latency
// histograms per range) is over 8 MiB.
std::unique_ptr<HttpGetter> MakePlainHttpGetter();

}  // namespace shardcast::forecast
