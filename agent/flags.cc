#include "agent/flags.h"

#include <cmath>

namespace shardcast::agent {

std::string Usage() {
  return R"(shardcast-agent: the Shardcast sidecar beside one redis-server (docs/agent.md)

  --redis HOST:PORT              this pod's redis-server (default 127.0.0.1:6379)
  --listen ADDR                  hook HTTP server, "host:port" or ":port" (default :8081)
  --metrics-bind-address ADDR    Prometheus /metrics, /healthz, /readyz (default :9091, "0" off)
  --copy-batch N                 keys per MIGRATE (default 100, 1..10000)
  --copy-rate N                  keys per second a copy may move (default 0 = unlimited)
  --echo-bound DURATION          max echo lag before echo-stale, >= 200ms (default 1s)
  --echo-pace DURATION           an echo applies logged writes at most this often,
                                 0 = as soon as read (default 50ms, at most bound/4)
  --help
)";
}

Result<std::chrono::milliseconds> ParseMillis(const std::string& text, const std::string& flag) {
  double scale = 1.0;
  std::string num = text;
  if (num.ends_with("ms")) {
    num.resize(num.size() - 2);
  } else if (num.ends_with("s")) {
    num.resize(num.size() - 1);
    scale = 1000.0;
  }
  try {
    std::size_t used = 0;
    const double v = std::stod(num, &used);
    if (used != num.size() || !std::isfinite(v) || v <= 0) throw std::invalid_argument(text);
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(v * scale)));
  } catch (...) {
    return unexpected(
        Error{flag + ": must be a positive duration like 500ms or 2s, got \"" + text + "\""});
  }
}

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags f;
  f.agent.redis = {"127.0.0.1", 6379, "127.0.0.1:6379"};
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::string value;
    if (name == "--help" || name == "-h") {
      f.help = true;
      continue;
    }
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return unexpected(Error{name + ": needs a value"});
    }
    if (name == "--redis") {
      auto ep = ParseEndpoint(value, "--redis");
      if (!ep) return unexpected(ep.error());
      f.agent.redis = *ep;
    } else if (name == "--listen") {
      f.listen = value;
    } else if (name == "--metrics-bind-address") {
      f.metrics_bind_address = value;
    } else if (name == "--copy-batch") {
      try {
        std::size_t used = 0;
        const int v = std::stoi(value, &used);
        if (used != value.size() || v < 1 || v > 10000) throw std::out_of_range(value);
        f.agent.copy_batch = v;
      } catch (...) {
        return unexpected(Error{"--copy-batch: must be an integer in [1, 10000]"});
      }
    } else if (name == "--copy-rate") {
      try {
        std::size_t used = 0;
        const double v = std::stod(value, &used);
        if (used != value.size() || !std::isfinite(v) || v < 0) throw std::out_of_range(value);
        f.agent.copy_rate = v;
      } catch (...) {
        return unexpected(Error{"--copy-rate: must be a number >= 0 (keys/s, 0 = unlimited)"});
      }
    } else if (name == "--echo-bound") {
      auto d = ParseMillis(value, "--echo-bound");
      if (!d) return unexpected(d.error());
      if (d->count() < 200) return unexpected(Error{"--echo-bound: must be at least 200ms"});
      f.agent.echo_bound = *d;
    } else if (name == "--echo-pace") {
      if (value == "0" || value == "0ms" || value == "0s") {
        f.agent.echo_pace = std::chrono::milliseconds(0);
        continue;
      }
      auto d = ParseMillis(value, "--echo-pace");
      if (!d) return unexpected(d.error());
      f.agent.echo_pace = *d;
    } else {
      return unexpected(Error{name + ": unknown flag (see --help)"});
    }
  }
  if (f.agent.echo_pace > f.agent.echo_bound / 4) {
    return unexpected(Error{"--echo-pace: must be at most a quarter of --echo-bound (" +
                            std::to_string(f.agent.echo_bound.count() / 4) + "ms), got " +
                            std::to_string(f.agent.echo_pace.count()) + "ms"});
  }
  return f;
}

}  // namespace shardcast::agent
