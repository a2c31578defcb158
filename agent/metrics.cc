#include "agent/metrics.h"

namespace shardcast::agent {

Result<AgentMetrics> RegisterAgentMetrics(runtime::Registry& reg) {
  AgentMetrics m;
  auto keys =
      reg.counter("shardcast_agent_keys_copied_total",
                  "Keys moved or copied by the agent, by kind (move, abort, echo-fill).", {"kind"});
  if (!keys) return unexpected(keys.error());
  m.keys_copied = *keys;
  auto bytes = reg.counter("shardcast_agent_bytes_copied_total",
                           "MEMORY USAGE of the keys moved or copied, by kind.", {"kind"});
  if (!bytes) return unexpected(bytes.error());
  m.bytes_copied = *bytes;
  auto batches =
      reg.counter("shardcast_agent_copy_batches_total", "MIGRATE batches sent, by kind.", {"kind"});
  if (!batches) return unexpected(batches.error());
  m.copy_batches = *batches;
  auto hooks = reg.counter("shardcast_agent_hook_requests_total",
                           "Hook requests by hook and result (ok, replayed, bad_request, fenced, "
                           "conflict, error).",
                           {"hook", "result"});
  if (!hooks) return unexpected(hooks.error());
  m.hook_requests = *hooks;
  auto lag =
      reg.gauge("shardcast_agent_echo_lag_seconds",
                "Age of the oldest write-log entry the echo has not applied yet.", {"range"});
  if (!lag) return unexpected(lag.error());
  m.echo_lag = *lag;
  auto refreshed = reg.counter("shardcast_agent_echo_keys_refreshed_total",
                               "Keys an echo refreshed from its owner's write log.", {"range"});
  if (!refreshed) return unexpected(refreshed.error());
  m.echo_refreshed = *refreshed;
  return m;
}

}  // namespace shardcast::agent
