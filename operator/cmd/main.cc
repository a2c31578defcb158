// The shardcast binary: `shardcast run` is the operator; `forecast` and
// `plan` are offline tools that need no cluster.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "controllers/forecast/register.h"
#include "controllers/migrationpolicy/register.h"
#include "controllers/shardset/register.h"
#include "operator/cmd/backfill.h"
#include "operator/cmd/flags.h"
#include "operator/cmd/forecast.h"
#include "operator/cmd/plan.h"
#include "operator/kube/client.h"
#include "operator/kube/kubeconfig.h"
#include "operator/manager/manager.h"
#include "operator/runtime/logging.h"
#include "util/time.h"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true); }

constexpr const char* kUsage = R"(usage: shardcast <command> [flags]

commands:
  run        run the operator against a cluster
  forecast   forecast a series from a CSV (no cluster needed)
  plan       print what the operator would do for a dumped state (no cluster needed)
  backfill   seed a ShardSet's forecast history from CSV files (before `run`)
  version    print the version

run flags (each also read from the environment variable in brackets):
  --kubeconfig PATH                 kubeconfig file [KUBECONFIG]; default: in-cluster, then ~/.kube/config
  --context NAME                    kubeconfig context [SHARDCAST_CONTEXT]
  --namespace NS                    namespace to watch; "" = all [SHARDCAST_NAMESPACE]
  --leader-elect                    use a Lease so only one replica acts [SHARDCAST_LEADER_ELECT=true]
  --leader-election-namespace NS    namespace of the Lease [SHARDCAST_LEADER_ELECTION_NAMESPACE]
  --leader-election-id NAME         name of the Lease (default shardcast-operator)
  --log-level LEVEL                 trace|debug|info|warn|error [SHARDCAST_LOG_LEVEL]
  --log-format FORMAT               text|json [SHARDCAST_LOG_FORMAT]
  --metrics-bind-address ADDR       Prometheus /metrics, e.g. :8080; "" disables [SHARDCAST_METRICS_BIND_ADDRESS]
  --health-probe-bind-address ADDR  /healthz and /readyz, e.g. :8081 [SHARDCAST_HEALTH_PROBE_BIND_ADDRESS]
  --stuck-worker-timeout DURATION   /healthz fails while a controller worker is inside one reconcile
                                    longer than this, e.g. 300s, 5m; 0 disables (default 5m)
                                    [SHARDCAST_STUCK_WORKER_TIMEOUT]
  --forecasting=false               run without the forecast controller (reactive only) [SHARDCAST_FORECASTING]
  --forecast-sample-period D        forecast sampling period, e.g. 60s (default) [SHARDCAST_FORECAST_SAMPLE_PERIOD]
  --forecast-refit-interval D       model refit interval (default 10m) [SHARDCAST_FORECAST_REFIT_INTERVAL]
  --forecast-persist-interval D     history ConfigMap save interval (default 5m) [SHARDCAST_FORECAST_PERSIST_INTERVAL]
  --forecast-scrape-timeout D       one metrics scrape (default 2s) [SHARDCAST_FORECAST_SCRAPE_TIMEOUT]
  --forecast-scrape-ranges=false    do not scrape per-range counters [SHARDCAST_FORECAST_SCRAPE_RANGES]

domain clock (replays and demos of accelerated traces; docs/demo.md):
  --time-scale S                    domain seconds per real second, > 0 (default 1) [SHARDCAST_TIME_SCALE]
  --time-origin T                   domain time (RFC3339 or unix seconds) at the anchor [SHARDCAST_TIME_ORIGIN]
  --time-anchor R                   real unix time (seconds, may be fractional) at which the domain
                                    clock reads T; default: now [SHARDCAST_TIME_ANCHOR]
    The domain clock stamps forecast samples and drives forecast steps, refits,
    cooldowns, windows, stabilization and verification windows and status
    timestamps of every controller (one clock, handed out by the manager). Leases, HTTP and
    API timeouts, sample periods and work-queue delays stay on the real clock.
)";

struct RunFlags {
  std::string kubeconfig;
  std::string context;
  std::string ns;
  bool leader_elect = false;
  std::string le_namespace;
  std::string le_id = "shardcast-operator";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string metrics_addr = ":8080";
  std::string health_addr = ":8081";
  std::string stuck_worker_timeout = "5m";
  bool forecasting = true;
  std::string time_scale;  // "" = real time
  std::string time_origin;
  std::string time_anchor;
  // --forecast-* flags: {name without dashes, value}, applied in order by
  // the forecast controller's registration.
  std::vector<std::pair<std::string, std::string>> forecast;
};

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

// Set once --log-format json is in effect: failures are then logged as
// JSON lines too, so every line of the log parses.
bool g_json_log = false;

int Fail(const std::string& msg, int code = 2) {
  if (g_json_log) {
    spdlog::error("{}", msg);
    spdlog::default_logger()->flush();
    return code;
  }
  std::cerr << "shardcast: " << msg << "\n";
  return code;
}

// Returns an error message, or "" when parsing succeeded.
std::string ParseRunFlags(int argc, char** argv, RunFlags* f) {
  if (auto v = Env("KUBECONFIG")) f->kubeconfig = "";  // resolved by LoadDefault
  if (auto v = Env("SHARDCAST_CONTEXT")) f->context = *v;
  if (auto v = Env("SHARDCAST_NAMESPACE")) f->ns = *v;
  if (auto v = Env("SHARDCAST_LEADER_ELECT")) f->leader_elect = (*v == "true" || *v == "1");
  if (auto v = Env("SHARDCAST_LEADER_ELECTION_NAMESPACE")) f->le_namespace = *v;
  if (auto v = Env("SHARDCAST_LOG_LEVEL")) f->log_level = *v;
  if (auto v = Env("SHARDCAST_LOG_FORMAT")) f->log_format = *v;
  if (auto v = Env("SHARDCAST_METRICS_BIND_ADDRESS")) f->metrics_addr = *v;
  if (auto v = Env("SHARDCAST_HEALTH_PROBE_BIND_ADDRESS")) f->health_addr = *v;
  if (auto v = Env("SHARDCAST_STUCK_WORKER_TIMEOUT")) f->stuck_worker_timeout = *v;
  if (auto v = Env("SHARDCAST_FORECASTING")) f->forecasting = !(*v == "false" || *v == "0");
  if (auto v = Env("SHARDCAST_TIME_SCALE")) f->time_scale = *v;
  if (auto v = Env("SHARDCAST_TIME_ORIGIN")) f->time_origin = *v;
  if (auto v = Env("SHARDCAST_TIME_ANCHOR")) f->time_anchor = *v;
  for (const char* name :
       {"sample-period", "refit-interval", "persist-interval", "scrape-timeout", "scrape-ranges"}) {
    std::string var = std::string("SHARDCAST_FORECAST_") + name;
    for (char& c : var) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
    if (auto v = Env(var.c_str()); v && !v->empty())
      f->forecast.emplace_back(std::string("forecast-") + name, *v);
  }
  for (int i = 0; i < argc; ++i) {
    shardcast::cli::FlagArg flag = shardcast::cli::SplitFlag(argv[i]);
    std::string& a = flag.name;
    std::string& value = flag.value;
    const bool has_value = flag.has_value;
    auto take = [&](std::string* out) -> bool {
      if (has_value) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--kubeconfig") {
      ok = take(&f->kubeconfig);
    } else if (a == "--context") {
      ok = take(&f->context);
    } else if (a == "--namespace") {
      ok = take(&f->ns);
    } else if (a == "--leader-election-namespace") {
      ok = take(&f->le_namespace);
    } else if (a == "--leader-election-id") {
      ok = take(&f->le_id);
    } else if (a == "--log-level") {
      ok = take(&f->log_level);
    } else if (a == "--log-format") {
      ok = take(&f->log_format);
    } else if (a == "--metrics-bind-address") {
      ok = take(&f->metrics_addr);
    } else if (a == "--health-probe-bind-address") {
      ok = take(&f->health_addr);
    } else if (a == "--stuck-worker-timeout") {
      ok = take(&f->stuck_worker_timeout);
    } else if (a == "--time-scale") {
      ok = take(&f->time_scale);
    } else if (a == "--time-origin") {
      ok = take(&f->time_origin);
    } else if (a == "--time-anchor") {
      ok = take(&f->time_anchor);
    } else if (a == "--forecasting" || a == "--leader-elect") {
      if (has_value && value != "true" && value != "false") {
        return a + " must be true or false, not '" + value + "'";
      }
      (a == "--forecasting" ? f->forecasting : f->leader_elect) = !has_value || value == "true";
    } else if (a.rfind("--forecast-", 0) == 0) {
      std::string v;
      ok = take(&v);
      if (ok) f->forecast.emplace_back(a.substr(2), v);
    } else if (a == "-h" || a == "--help") {
      return "help";
    } else {
      return "unknown flag '" + a + "'";
    }
    if (!ok) return "flag " + a + " needs a value";
  }
  if (f->log_format != "text" && f->log_format != "json") {
    return "--log-format must be text or json, not '" + f->log_format + "'";
  }
  if (spdlog::level::from_str(f->log_level) == spdlog::level::off && f->log_level != "off") {
    return "--log-level must be trace, debug, info, warn or error, not '" + f->log_level + "'";
  }
  return "";
}

// A whole number or decimal; false on anything else (trailing garbage too).
bool ParseNumber(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// Unix seconds, or RFC3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)".
bool ParseTimeValue(const std::string& s, double* out) {
  if (ParseNumber(s, out)) return true;
  auto t = shardcast::util::ParseRfc3339Time(s);
  if (!t) return false;
  *out = static_cast<double>(t->seconds) + t->fraction;
  return true;
}

// Validates the domain-clock flags into the manager's one clock
// (ManagerOptions::domain_time, handed to every controller): scale, origin and
// anchor in unix seconds. Returns an error message, or "".
std::string DomainTimeFromFlags(const RunFlags& f,
                                std::optional<shardcast::manager::DomainTime>* out) {
  if (f.time_scale.empty() && f.time_origin.empty() && f.time_anchor.empty()) return "";
  shardcast::manager::DomainTime t;
  if (!f.time_scale.empty() &&
      (!ParseNumber(f.time_scale, &t.scale) || t.scale <= 0 || t.scale > 1e6)) {
    return "--time-scale must be a number in (0, 1e6], not '" + f.time_scale + "'";
  }
  const double real_now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  t.anchor = real_now;
  if (!f.time_anchor.empty() && !ParseTimeValue(f.time_anchor, &t.anchor)) {
    return "--time-anchor must be unix seconds or RFC3339, not '" + f.time_anchor + "'";
  }
  t.origin = t.anchor;
  if (!f.time_origin.empty() && !ParseTimeValue(f.time_origin, &t.origin)) {
    return "--time-origin must be unix seconds or RFC3339, not '" + f.time_origin + "'";
  }
  *out = t;
  return "";
}

// JSON format: one valid JSON object per line, the message escaped
// (operator/runtime/logging.h).
void SetupLogging(const RunFlags& f) {
  auto logger = shardcast::runtime::MakeStderrLogger(f.log_format == "json"
                                                         ? shardcast::runtime::LogFormat::kJson
                                                         : shardcast::runtime::LogFormat::kText,
                                                     "shardcast");
  logger->set_level(spdlog::level::from_str(f.log_level));
  spdlog::set_default_logger(logger);
  g_json_log = f.log_format == "json";
}

// "0", "300", "300s", "5m", "1h" -> seconds; false on anything else.
bool ParseTimeout(const std::string& s, std::chrono::seconds* out) {
  if (s.empty()) return false;
  double mult = 1;
  std::string num = s;
  if (s.back() == 's' || s.back() == 'm' || s.back() == 'h') {
    mult = s.back() == 's' ? 1 : s.back() == 'm' ? 60 : 3600;
    num.pop_back();
  }
  double v = 0;
  if (!ParseNumber(num, &v) || v < 0 || v * mult > 7 * 86400.0) return false;
  *out = std::chrono::seconds(static_cast<long>(std::llround(v * mult)));
  return true;
}

// Names the kubeconfig field behind a failure to reach the API server.
std::string ExplainStartupError(const shardcast::kube::RestConfig& cfg,
                                const shardcast::kube::ApiError& err) {
  using K = shardcast::kube::ErrorKind;
  std::string where = "kubeconfig " + cfg.source + ": ";
  switch (err.kind) {
    case K::kUnauthorized:
      return where + (cfg.user_field.empty() ? "user" : cfg.user_field) +
             ": the API server rejected the credentials (401 Unauthorized)";
    case K::kForbidden:
      return where + (cfg.user_field.empty() ? "user" : cfg.user_field) +
             ": not allowed to read /version (403 Forbidden)";
    case K::kConfig:
      return where + (cfg.ca_source.empty() ? "certificate-authority" : cfg.ca_source) + ": " +
             err.message;
    default:
      return where + (cfg.server_field.empty() ? "server" : cfg.server_field) + " " + cfg.server +
             ": " + err.message;
  }
}

int Run(int argc, char** argv) {
  RunFlags flags;
  std::string perr = ParseRunFlags(argc, argv, &flags);
  if (perr == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (!perr.empty()) return Fail(perr);
  std::optional<shardcast::manager::DomainTime> domain_time;
  if (std::string terr = DomainTimeFromFlags(flags, &domain_time); !terr.empty()) return Fail(terr);
  std::chrono::seconds stuck_worker_timeout{0};
  if (!ParseTimeout(flags.stuck_worker_timeout, &stuck_worker_timeout)) {
    return Fail("--stuck-worker-timeout must be a duration such as 300s, 5m or 0, not '" +
                flags.stuck_worker_timeout + "'");
  }
  SetupLogging(flags);
  if (domain_time) {
    spdlog::info(
        "domain clock: {:.9g} domain seconds per real second, domain time {:.3f} at real time "
        "{:.3f}",
        domain_time->scale, domain_time->origin, domain_time->anchor);
  }

  auto cfg = shardcast::kube::LoadDefault(flags.kubeconfig, flags.context);
  if (!cfg) return Fail(cfg.error().message);
  auto transport = shardcast::kube::MakeHttpTransport(*cfg);
  if (!transport) return Fail(transport.error().message);
  auto client = std::make_shared<shardcast::kube::Client>(*transport);
  auto version = client->ServerVersion();
  if (!version) return Fail(ExplainStartupError(*cfg, version.error()), 1);
  spdlog::info("connected to {} (Kubernetes {})", cfg->server,
               version->value("gitVersion", std::string("unknown")));

  shardcast::manager::ManagerOptions mo;
  mo.namespace_ = flags.ns;
  mo.leader_elect = flags.leader_elect;
  mo.metrics_address = flags.metrics_addr;
  mo.health_address = flags.health_addr;
  mo.stuck_worker_timeout = stuck_worker_timeout;
  mo.domain_time = domain_time;
  mo.leader_election.lease_name = flags.le_id;
  mo.leader_election.lease_namespace =
      !flags.le_namespace.empty() ? flags.le_namespace
                                  : (!cfg->namespace_.empty() ? cfg->namespace_ : "default");
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  mo.leader_election.identity = std::string(host) + "_" + std::to_string(getpid());
  shardcast::manager::Manager mgr(client, mo);

  shardcast::controllers::RegisterShardSetController(mgr);
  shardcast::controllers::RegisterMigrationPolicyController(mgr);
  if (flags.forecasting) {
    if (auto fr = shardcast::controllers::RegisterForecastController(mgr, flags.forecast); !fr)
      return Fail(fr.error().message);
  }

  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  auto r = mgr.run(g_stop);
  if (!r) return Fail(r.error().message, 1);
  spdlog::info("shut down cleanly");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Few arenas: with glibc's default (8 per core) the memory of large list
  // responses parsed on cpprestsdk's threads stays held after it is freed;
  // the informer benchmark measured this as most of the process RSS.
  mallopt(M_ARENA_MAX, 2);
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "run") return Run(argc - 2, argv + 2);
  if (cmd == "version" || cmd == "--version") {
    std::cout << "shardcast " << SHARDCAST_VERSION << "\n";
    return 0;
  }
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "forecast") return shardcast::cli::ForecastMain(argc - 1, argv + 1);
  if (cmd == "backfill") return shardcast::cli::BackfillMain(argc - 1, argv + 1);
  if (cmd == "plan") return shardcast::cli::PlanMain(argc - 1, argv + 1);
  std::cerr << "shardcast: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
