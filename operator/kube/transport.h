// The HTTP boundary. Everything above this interface sees typed results;
// cpprestsdk and its exceptions never leak past transport.cc.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "operator/kube/error.h"
#include "operator/kube/kubeconfig.h"

namespace shardcast::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string path_and_query;  // already percent-encoded, starts with '/'
  std::string body;
  std::string content_type;  // "" when there is no body
  std::string accept = "application/json";
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // raw Retry-After header, "" when absent
};

// A streaming response body split into lines (watch events are one JSON
// object per line).
class LineStream {
 public:
  virtual ~LineStream() = default;
  // The next complete line without its '\n'; nullopt at a clean end of
  // stream; an error when the connection broke or was cancelled.
  [[nodiscard]] virtual ApiResult<std::optional<std::string>> NextLine() = 0;
  // Unblocks NextLine() from another thread; idempotent.
  virtual void cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  [[nodiscard]] virtual ApiResult<HttpResponse> send(const HttpRequest& request) = 0;
  // Opens a streaming GET. Non-2xx answers come back as typed errors.
  // `idle_timeout` bounds the silence between bytes.
  [[nodiscard]] virtual ApiResult<std::unique_ptr<LineStream>> stream(
      const HttpRequest& request, std::chrono::seconds idle_timeout) = 0;
  virtual std::string server() const = 0;
};

struct TransportOptions {
  std::chrono::seconds request_timeout{30};
  std::string user_agent = "shardcast/0.1";
};

// The production transport on cpprestsdk + OpenSSL. Fails (kConfig) when
// the TLS material in `config` is unusable.
[[nodiscard]] ApiResult<std::shared_ptr<Transport>> MakeHttpTransport(
    const RestConfig& config, TransportOptions options = {});

// Splits a byte stream into lines; exposed for tests.
class LineSplitter {
 public:
  void feed(const char* data, size_t n);
  std::optional<std::string> pop();
  bool has_partial() const { return !partial_.empty(); }

 private:
  std::string partial_;
  std::string ready_;  // complete lines joined, consumed from ready_pos_
  size_t ready_pos_ = 0;
};

}  // namespace shardcast::kube
