// The Move action and the world the pure step functions (NextStep) see,
// shared by the state-machine and crash-safety tests: range 7 moving from
// kv-0 to kv-3 of ShardSet kv, both pods active and Ready, 4 active pods,
// now = 1010.
#pragma once

#include <cstdint>
#include <string>

#include "controllers/migrationpolicy/migrationpolicy.h"

namespace shardcast::migrationpolicy {

inline ActionRecord MoveRecord(Phase phase, int64_t started_at = 900,
                               int64_t phase_started_at = 1000) {
  ActionRecord a;
  a.id = "plan-1-0";
  a.shard_set = "kv";
  a.type = ActionType::kMove;
  a.range = 7;
  a.source = "kv-0";
  a.target = "kv-3";
  a.phase = phase;
  a.started_at = started_at;
  a.phase_started_at = phase_started_at;
  return a;
}

// Range 7 as routed: owned by `owner`; a `state` other than stable marks it
// moving from kv-0 to kv-3.
inline StepWorld MoveWorld(const std::string& owner, const std::string& state, bool hooks) {
  StepWorld w;
  w.now = 1010;
  w.range.found = true;
  w.range.owner = owner;
  w.range.state = state;
  if (state != "stable") {
    w.range.source = "kv-0";
    w.range.target = "kv-3";
  }
  w.source = {true, true, true};
  w.target = {true, true, true};
  w.active_pods = 4;
  w.replicas_spec = 4;
  w.hooks = hooks;
  return w;
}

}  // namespace shardcast::migrationpolicy
