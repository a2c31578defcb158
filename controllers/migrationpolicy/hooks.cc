#include "controllers/migrationpolicy/hooks.h"

#include "operator/runtime/http_client.h"

namespace shardcast::migrationpolicy {
namespace {

// Hook calls over the operator's one HTTP client (operator/runtime/http_client.h).
class SocketHookClient final : public HookClient {
 public:
  Result<HookResponse> call(const std::string& method, const std::string& endpoint,
                            const std::string& path, const std::string& body,
                            std::chrono::milliseconds timeout) override {
    auto hp = runtime::SplitEndpoint(endpoint);
    if (!hp) return unexpected(Error{"hook " + hp.error().message});
    runtime::HttpCall c;
    c.method = method;
    c.host = hp->first;
    c.port = hp->second;
    c.path = path;
    c.body = body;
    c.content_type = "application/json";
    c.http11 = true;
    c.timeout = timeout;
    auto a = http_->call(c);
    if (!a) return unexpected(Error{"hook " + a.error().message});
    return HookResponse{a->status, std::move(a->body)};
  }

 private:
  std::unique_ptr<runtime::HttpClient> http_ = runtime::MakePlainHttpClient(1u << 20);
};

}  // namespace

std::shared_ptr<HookClient> MakeSocketHookClient() { return std::make_shared<SocketHookClient>(); }

}  // namespace shardcast::migrationpolicy
