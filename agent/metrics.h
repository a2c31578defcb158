// The agent's Prometheus metrics (operator/runtime's registry).
#pragma once

#include "operator/runtime/metrics.h"

namespace shardcast::agent {

struct AgentMetrics {
  runtime::CounterFamily* keys_copied = nullptr;     // {kind}: move, abort, echo-fill
  runtime::CounterFamily* bytes_copied = nullptr;    // {kind}
  runtime::CounterFamily* copy_batches = nullptr;    // {kind}
  runtime::CounterFamily* hook_requests = nullptr;   // {hook, result}
  runtime::GaugeFamily* echo_lag = nullptr;          // {range}, seconds
  runtime::CounterFamily* echo_refreshed = nullptr;  // {range}
};

// Registers the families; the registry must outlive the result.
[[nodiscard]] Result<AgentMetrics> RegisterAgentMetrics(runtime::Registry& reg);

}  // namespace shardcast::agent
