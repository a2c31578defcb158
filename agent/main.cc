// shardcast-agent: wiring only (flags, servers, signals). See docs/agent.md.
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <semaphore>

#include "agent/agent.h"
#include "agent/flags.h"
#include "operator/runtime/http_server.h"

namespace {
std::binary_semaphore g_stop{0};
void OnSignal(int) { g_stop.release(); }
}  // namespace

int main(int argc, char** argv) {
  using namespace shardcast;
  auto flags = agent::ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags) {
    std::cerr << "shardcast-agent: " << flags.error().message << "\n" << agent::Usage();
    return 2;
  }
  if (flags->help) {
    std::cout << agent::Usage();
    return 0;
  }
  runtime::Registry registry;
  auto metrics = agent::RegisterAgentMetrics(registry);
  if (!metrics) {
    std::cerr << "shardcast-agent: metrics: " << metrics.error().message << "\n";
    return 1;
  }
  agent::Agent core(flags->agent, agent::HiredisFactory(std::chrono::seconds(10)), &*metrics);
  if (auto r = core.Restore(); !r) spdlog::warn("{} (nothing resumed)", r.error().message);
  // Hooks on --listen: operator/runtime's server with request handlers for
  // /shardcast/* and /healthz (the agent's own: PING of its redis).
  runtime::HttpServer hooks(
      runtime::HttpServerOptions{.address = flags->listen, .max_connections = 64}, nullptr,
      std::function<runtime::ReadyStatus()>{});
  auto serve = [&core](const runtime::HttpRequest& req) {
    const agent::HttpAnswer a = core.Handle({req.method, req.path, req.query, req.body});
    return runtime::HttpResponse{a.status, a.content_type, a.body};
  };
  hooks.HandleRequests("/shardcast/", serve);
  hooks.HandleRequests("/healthz", serve);
  if (auto r = hooks.start(); !r) {
    std::cerr << "shardcast-agent: --listen: " << r.error().message << "\n";
    return 1;
  }
  std::unique_ptr<runtime::HttpServer> metrics_server;
  if (flags->metrics_bind_address != "0") {
    metrics_server = std::make_unique<runtime::HttpServer>(
        runtime::HttpServerOptions{.address = flags->metrics_bind_address}, &registry,
        std::function<runtime::ReadyStatus()>{});
    if (auto r = metrics_server->start(); !r) {
      std::cerr << "shardcast-agent: --metrics-bind-address: " << r.error().message << "\n";
      return 1;
    }
  }
  spdlog::info("shardcast-agent: redis {}, hooks on port {}, metrics on {}",
               flags->agent.redis.text, hooks.port(), flags->metrics_bind_address);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  g_stop.acquire();
  spdlog::info("shardcast-agent: stopping");
  hooks.stop();
  if (metrics_server) metrics_server->stop();
  return 0;
}
