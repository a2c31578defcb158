// HTTP hooks on workload pods (ShardSet spec.hooks): prepare, copy,
// progress, cutover, release. An injectable interface so that the
// reconciler can be tested without sockets; the default implementation
// calls the operator's one HTTP client (operator/runtime/http_client.h) with
// HTTP/1.1 (loopback or pod IPs; no TLS, no redirects, Connection: close).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "util/expected.h"

namespace shardcast::migrationpolicy {

struct HookResponse {
  int status = 0;
  std::string body;
};

class HookClient {
 public:
  virtual ~HookClient() = default;
  // `endpoint` is "host:port" or "[v6]:port"; `method` GET or POST.
  [[nodiscard]] virtual Result<HookResponse> call(const std::string& method,
                                                  const std::string& endpoint,
                                                  const std::string& path, const std::string& body,
                                                  std::chrono::milliseconds timeout) = 0;
};

std::shared_ptr<HookClient> MakeSocketHookClient();

}  // namespace shardcast::migrationpolicy
