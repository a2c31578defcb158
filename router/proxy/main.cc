// shardcast-router: a Redis-protocol proxy that follows the Shardcast
// routing document (docs/routing.md) and the data-plane protocol
// (docs/dataplane-protocol.md).
#include <openssl/sha.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "operator/runtime/http_server.h"
#include "operator/runtime/metrics.h"
#include "router/proxy/source.h"
#include "router/proxy/worker.h"
#include "router/script.h"

namespace shardcast::router::proxy {
namespace {

struct Flags {
  std::string listen = "0.0.0.0:6380";
  std::string routing_file;
  std::string configmap;
  std::string loads_file;
  std::string loads_configmap;
  std::string kubeconfig;
  std::string metrics_bind_address = ":9090";
  std::size_t max_clients = 10000;
  std::size_t max_pipeline = 1024;
  std::size_t max_request_bytes = 64 * 1024 * 1024;
  int threads = 0;
  int request_timeout_ms = 5000;
  std::string log_level = "info";
};

constexpr const char* kUsage =
    "usage: shardcast-router (--routing-file PATH | --configmap NAMESPACE/NAME) [options]\n"
    "  --listen HOST:PORT             client address (default 0.0.0.0:6380)\n"
    "  --routing-file PATH            routing.json, re-read when it changes\n"
    "  --configmap NS/NAME            watch data[routing.json] of this ConfigMap\n"
    "  --loads-file PATH              loads.json (per-pod load factors), re-read when it changes\n"
    "  --loads-configmap NS/NAME      watch data[loads.json] of this ConfigMap\n"
    "  --kubeconfig PATH              for the ConfigMaps (default: $KUBECONFIG, in-cluster)\n"
    "  --metrics-bind-address ADDR    /metrics, /healthz, /readyz (default :9090; 0 = off)\n"
    "  --max-clients N                (default 10000)\n"
    "  --max-pipeline N               requests of one client awaiting replies (default 1024)\n"
    "  --max-request-bytes N          one request (default 67108864)\n"
    "  --threads N                    event loops (default: one per core)\n"
    "  --request-timeout-ms N         shard reply timeout (default 5000)\n"
    "  --log-level LEVEL              trace, debug, info, warn, error (default info)\n";

Result<std::size_t> ParseCount(const std::string& flag, const std::string& v) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n == 0) {
    return unexpected(Error{flag + ": must be a positive integer (got \"" + v + "\")"});
  }
  return n;
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a != "--help" && a != "-h") {
      if (i + 1 >= argc) return unexpected(Error{a + ": needs a value"});
      v = argv[++i];
    }
    auto count = [&](std::size_t* dst) -> Result<void> {
      auto n = ParseCount(a, v);
      if (!n) return unexpected(n.error());
      *dst = *n;
      return {};
    };
    Result<void> ok;
    std::size_t tmp = 0;
    if (a == "--help" || a == "-h") {
      return unexpected(Error{""});
    } else if (a == "--listen") {
      f.listen = v;
    } else if (a == "--routing-file") {
      f.routing_file = v;
    } else if (a == "--configmap") {
      f.configmap = v;
    } else if (a == "--loads-file") {
      f.loads_file = v;
    } else if (a == "--loads-configmap") {
      f.loads_configmap = v;
    } else if (a == "--kubeconfig") {
      f.kubeconfig = v;
    } else if (a == "--metrics-bind-address") {
      f.metrics_bind_address = v;
    } else if (a == "--max-clients") {
      ok = count(&f.max_clients);
    } else if (a == "--max-pipeline") {
      ok = count(&f.max_pipeline);
    } else if (a == "--max-request-bytes") {
      ok = count(&f.max_request_bytes);
    } else if (a == "--threads") {
      ok = count(&tmp);
      f.threads = static_cast<int>(std::min<std::size_t>(tmp, 256));
    } else if (a == "--request-timeout-ms") {
      ok = count(&tmp);
      f.request_timeout_ms = static_cast<int>(std::min<std::size_t>(tmp, 3600000));
    } else if (a == "--log-level") {
      f.log_level = v;
    } else {
      return unexpected(Error{"unknown flag " + a});
    }
    if (!ok) return unexpected(ok.error());
  }
  if (f.routing_file.empty() == f.configmap.empty()) {
    return unexpected(Error{"exactly one of --routing-file and --configmap is required"});
  }
  if (!f.loads_file.empty() && !f.loads_configmap.empty()) {
    return unexpected(Error{"at most one of --loads-file and --loads-configmap"});
  }
  for (auto [flag, value] :
       {std::pair<const char*, const std::string*>{"--configmap", &f.configmap},
        {"--loads-configmap", &f.loads_configmap}}) {
    auto slash = value->find('/');
    if (!value->empty() &&
        (slash == std::string::npos || slash == 0 || slash + 1 == value->size())) {
      return unexpected(Error{std::string(flag) + ": must be NAMESPACE/NAME"});
    }
  }
  return f;
}

std::string Sha1Hex(std::string_view s) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  char hex[2 * SHA_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", d[i]);
  return std::string(hex, 2 * SHA_DIGEST_LENGTH);
}

// A FileSource on `file`, else a ConfigMapSource on `configmap` (NS/NAME,
// checked by ParseFlags) watching data[key].
Result<std::unique_ptr<RoutingSource>> MakeSource(const std::string& file,
                                                  const std::string& configmap,
                                                  const std::string& key,
                                                  const std::string& kubeconfig, DocumentSink sink,
                                                  UpdateReporter report) {
  if (!file.empty()) {
    return std::unique_ptr<RoutingSource>(
        std::make_unique<FileSource>(file, std::move(sink), std::move(report)));
  }
  auto slash = configmap.find('/');
  auto cm =
      std::make_unique<ConfigMapSource>(configmap.substr(0, slash), configmap.substr(slash + 1),
                                        key, kubeconfig, std::move(sink), std::move(report));
  if (auto ok = cm->Init(); !ok) return unexpected(ok.error());
  return std::unique_ptr<RoutingSource>(std::move(cm));
}

// The workers' shared options from the flags.
void ConfigureShared(const Flags& f, TableHolder* holder, ProxyMetrics* pm, Shared& shared) {
  shared.options.limits.max_request_bytes = f.max_request_bytes;
  shared.options.max_clients = f.max_clients;
  shared.options.max_pipeline = f.max_pipeline;
  shared.options.backend.request_timeout = std::chrono::milliseconds(f.request_timeout_ms);
  shared.options.backend.script = std::string(kShardScript);
  shared.holder = holder;
  shared.metrics = pm;
  shared.script_sha = Sha1Hex(kShardScript);
  shared.options.backend.script_sha_bulk.clear();
  AppendBulk(shared.options.backend.script_sha_bulk, shared.script_sha);
}

// Logs and counts each routing update.
UpdateReporter RoutingReporter(ProxyMetrics* pm) {
  return [pm](const UpdateResult& r, const std::string& origin) {
    switch (r.outcome) {
      case UpdateOutcome::kApplied:
        spdlog::info("routing: epoch {} from {}", r.epoch_in_use, origin);
        pm->RoutingUpdate("applied").inc();
        pm->epoch().set(static_cast<double>(r.epoch_in_use));
        break;
      case UpdateOutcome::kIgnoredNotNewer:
        pm->RoutingUpdate("ignored").inc();
        break;
      case UpdateOutcome::kRejectedInvalid:
        spdlog::error("routing: {} rejected, keeping epoch {}: {}", origin, r.epoch_in_use,
                      r.error);
        pm->RoutingUpdate("rejected").inc();
        break;
    }
  };
}

// Published load factors (optional; absent: every pod counts 1): the started
// source, or nullptr when no flag names one.
Result<std::unique_ptr<RoutingSource>> StartLoads(const Flags& f, Shared& shared) {
  UpdateReporter report_loads = [](const UpdateResult& r, const std::string& origin) {
    if (r.outcome == UpdateOutcome::kApplied) {
      spdlog::info("load factors: applied from {}", origin);
    } else if (r.outcome == UpdateOutcome::kRejectedInvalid) {
      spdlog::warn("load factors: {} rejected, keeping the last good factors: {}", origin, r.error);
    }
  };
  std::unique_ptr<RoutingSource> loads;
  if (!f.loads_file.empty() || !f.loads_configmap.empty()) {
    auto made = MakeSource(
        f.loads_file, f.loads_configmap, "loads.json", f.kubeconfig,
        [&shared](const std::string& text) { return shared.loads.Update(text); }, report_loads);
    if (!made) return unexpected(made.error());
    loads = std::move(*made);
    loads->Start();
  }
  return loads;
}

// `threads` workers listening on `host`:`port` (the first one's port when 0;
// `port` is set to the bound port).
Result<std::vector<std::unique_ptr<Worker>>> ListenWorkers(Shared& shared, const std::string& host,
                                                           std::uint16_t& port, int threads) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(shared, i));
    auto bound = workers.back()->Listen(host, port);
    if (!bound) return unexpected(bound.error());
    port = *bound;
  }
  return workers;
}

// /metrics, /healthz and /readyz (ready once a routing document is held), or
// nullptr when the address is "0".
Result<std::unique_ptr<runtime::HttpServer>> StartHttp(const std::string& address,
                                                       runtime::Registry* registry,
                                                       TableHolder* holder) {
  std::unique_ptr<runtime::HttpServer> http;
  if (address != "0") {
    http = std::make_unique<runtime::HttpServer>(
        runtime::HttpServerOptions{.address = address}, registry, [holder] {
          return holder->Get() ? runtime::ReadyStatus{true, ""}
                               : runtime::ReadyStatus{false, "no routing document yet"};
        });
    if (auto ok = http->start(); !ok) {
      return unexpected(Error{"--metrics-bind-address: " + ok.error().message});
    }
  }
  return http;
}

// Runs the workers' event loops until SIGINT or SIGTERM, then stops
// everything in order.
void ServeUntilSignal(std::vector<std::unique_ptr<Worker>>& workers, runtime::HttpServer* http,
                      RoutingSource* source, RoutingSource* loads) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::vector<std::thread> loops;
  for (auto& w : workers) loops.emplace_back([&w] { w->Run(); });
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: stopping", sig);
  if (http) http->BeginShutdown();
  for (auto& w : workers) w->Stop();
  for (auto& t : loops) t.join();
  source->Stop();
  if (loads) loads->Stop();
  if (http) http->stop();
}

int Run(const Flags& f) {
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  runtime::Registry registry;
  auto metrics = ProxyMetrics::Create(registry);
  if (!metrics) {
    spdlog::error("metrics: {}", metrics.error().message);
    return 1;
  }
  TableHolder holder;
  Shared shared;
  ConfigureShared(f, &holder, metrics->get(), shared);

  auto source = MakeSource(f.routing_file, f.configmap, "routing.json", f.kubeconfig,
                           SinkInto(&holder), RoutingReporter(metrics->get()));
  if (!source) {
    spdlog::error("{}", source.error().message);
    return 1;
  }
  RoutingSource* src = source->get();
  shared.reload = [src] { src->ReloadNow(); };
  (*source)->Start();
  auto loads = StartLoads(f, shared);
  if (!loads) {
    spdlog::error("{}", loads.error().message);
    return 1;
  }

  auto addr = runtime::ParseListenAddress(f.listen);
  if (!addr) {
    spdlog::error("--listen: {}", addr.error().message);
    return 1;
  }
  int threads = f.threads > 0 ? f.threads
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::uint16_t port = addr->port;
  auto workers = ListenWorkers(shared, addr->host, port, threads);
  if (!workers) {
    spdlog::error("{}", workers.error().message);
    return 1;
  }
  auto http = StartHttp(f.metrics_bind_address, &registry, &holder);
  if (!http) {
    spdlog::error("{}", http.error().message);
    return 1;
  }
  spdlog::info("shardcast-router listening on port {} with {} threads", port, threads);
  ServeUntilSignal(*workers, http->get(), src, loads->get());
  return 0;
}

}  // namespace
}  // namespace shardcast::router::proxy

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  auto flags = shardcast::router::proxy::ParseFlags(argc, argv);
  if (!flags) {
    if (!flags.error().message.empty()) std::cerr << flags.error().message << "\n";
    std::cerr << shardcast::router::proxy::kUsage;
    return flags.error().message.empty() ? 0 : 2;
  }
  return shardcast::router::proxy::Run(*flags);
}
