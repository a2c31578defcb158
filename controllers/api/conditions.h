// kstatus-shaped conditions (the conventions of sigs.k8s.io/cli-utils
// pkg/kstatus, which Flux, kpt and Argo CD's generic checks follow): a Ready
// condition plus the "abnormal-true" Reconciling and Stalled, never both True,
// each carrying the observedGeneration it was computed for (the status
// builders add that field). kstatus reads Stalled=True as Failed, Reconciling=
// True as InProgress, and otherwise Ready.
//
// Header-only and free of I/O: the ShardSet and MigrationPolicy status
// builders derive a Verdict from what they know and call ApplyVerdict on their
// own condition lists (any struct with string fields type, status, reason,
// message).
#pragma once

#include <string>
#include <vector>

namespace shardcast::api {

inline constexpr const char* kConditionReady = "Ready";
inline constexpr const char* kConditionReconciling = "Reconciling";
inline constexpr const char* kConditionStalled = "Stalled";

struct Verdict {
  enum class State {
    kCurrent,      // converged: Reconciling=False, Stalled=False
    kReconciling,  // working towards the spec: Reconciling=True
    kStalled,      // cannot progress without a change: Stalled=True, Ready=False
  };
  State state = State::kCurrent;
  std::string reason;   // CamelCase; used for the abnormal-true condition
  std::string message;  // human readable
};

// Sets (adds or replaces) Reconciling and Stalled in `conds` from `v`. When
// stalled, Ready is forced to False with the verdict's reason and message, so
// no object reads Ready while it cannot act. The normal-state conditions get
// reason "AsExpected" and an empty message.
template <typename C>
void ApplyVerdict(std::vector<C>& conds, const Verdict& v) {
  auto set = [&conds](const char* type, bool on, const std::string& reason,
                      const std::string& message) {
    C c;
    c.type = type;
    c.status = on ? "True" : "False";
    c.reason = on ? reason : "AsExpected";
    c.message = on ? message : "";
    for (auto& e : conds) {
      if (e.type == type) {
        e = c;
        return;
      }
    }
    conds.push_back(c);
  };
  const bool stalled = v.state == Verdict::State::kStalled;
  set(kConditionReconciling, v.state == Verdict::State::kReconciling, v.reason, v.message);
  set(kConditionStalled, stalled, v.reason, v.message);
  if (stalled) {
    for (auto& e : conds) {
      if (e.type == kConditionReady) {
        e.status = "False";
        e.reason = v.reason;
        e.message = v.message;
      }
    }
  }
}

// The condition of `type` in `conds`, or nullptr.
template <typename C>
const C* FindCondition(const std::vector<C>& conds, const char* type) {
  for (const auto& c : conds) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

}  // namespace shardcast::api
