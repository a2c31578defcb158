// The MigrationPolicy reconciler (key "namespace/name"): resolves the
// policy's ShardSets and conflicts, plans with the pure planner, publishes
// proposals or starts the plan, and advances the in-flight actions by ONE
// external write per round (routing, ShardSet scale, or hook call), then
// records the result in status. Level-triggered: a crash after any write is
// resumed from what is observed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "controllers/migrationpolicy/hooks.h"
#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/migrationpolicy/notices.h"
#include "operator/controller/controller.h"
#include "operator/kube/client.h"
#include "operator/kube/events.h"
#include "operator/kube/informer.h"
#include "operator/runtime/metrics.h"

namespace shardcast::migrationpolicy {

struct ReconcilerDeps {
  std::shared_ptr<kube::Client> client;
  const kube::Store* policies = nullptr;
  const kube::Store* shardsets = nullptr;
  const kube::Store* pods = nullptr;        // pods labelled shardcast.dev/shardset
  const kube::Store* configmaps = nullptr;  // routing ConfigMaps (same label)
  kube::EventSink* events = nullptr;        // optional
  runtime::Registry* metrics = nullptr;     // optional
  // The manager's fencing token (the Lease's, or 1 without leader
  // election) and whether writes under it may still be made. The token
  // the executor stamps is max(this, highest recorded token + 1), fixed
  // each time this value changes (a new leadership term; see fencing.h).
  std::function<uint64_t()> fencing_token;  // default: 1
  std::function<bool(uint64_t)> may_write;  // default: always
  std::function<int64_t()> now;             // Unix seconds; default: wall clock
  std::shared_ptr<HookClient> hooks;        // default: plain sockets
  // Endpoint of a pod's hook server; default "podIP:hooks.port".
  std::function<std::string(const std::string& pod, const std::string& ip, int port)> hook_endpoint;
  // Observed load of a ShardSet's pods in its capacity metric; default:
  // metrics.k8s.io PodMetrics (CPU millicores) through the client.
  std::function<ObservedLoad(const std::string& ns, const std::string& shard_set)> observed_load;
  // A metrics sample's wall-clock time (Unix seconds) on the `now` clock;
  // default: the same. Under `--time-scale` the domain time it corresponds to.
  std::function<int64_t(int64_t)> sample_time;
  StepConfig step;  // timeouts/attempts (policy fields override the rest)
  std::chrono::milliseconds idle_requeue{15000};
  // The most actions status.actions and status.proposal.actions may hold:
  // the CRD's maxItems. A ShardSet whose plan would push a round's plans
  // past it is left for a later round (the API server would refuse the
  // whole status write).
  std::size_t max_status_actions = 1000;
};

class MigrationPolicyReconciler final : public ctrl::Reconciler {
 public:
  explicit MigrationPolicyReconciler(ReconcilerDeps deps);
  [[nodiscard]] ctrl::ReconcileResult Reconcile(const std::string& key) override;

  // One round's view (reconciler_state.h).
  struct Round;
  struct SetState;

 private:
  ctrl::ReconcileResult run(Round& r);
  void LoadSet(Round& r, const std::string& name);
  // The fencing token of this term in namespace `ns` (fencing.h); an error
  // when the recorded tokens cannot be read.
  Result<uint64_t> TermToken(uint64_t base, const std::string& ns);
  // executor.cc: advances the actions, one external write per round.
  std::optional<std::chrono::milliseconds> StepActions(Round& r);
  // StepActions()'s stages: after a failed Split or Merge, fails the Pending
  // actions planned on its range; moves finished actions to history.
  void SkipDependents(Round& r, size_t i);
  void RetireFinished(Round& r);
  StepWorld world(Round& r, SetState& s, const ActionRecord& a);
  bool MayStart(Round& r, size_t i, std::string* why);
  struct Outcome;
  Outcome execute(Round& r, SetState& s, ActionRecord& a, Step& st, const StepWorld& w,
                  const StepConfig& cfg);
  Outcome CallHook(Round& r, SetState& s, const ActionRecord& a, Write wr, const StepWorld& w);
  void plan(Round& r);
  // plan()'s stages (planning.cc): one ShardSet's plan (appended to
  // `plans` when it fits in status), its lowLoadSince and unconfirmed
  // overloads, and the plans' publication as actions (Auto) or a proposal.
  void PlanShardSet(Round& r, const std::string& name, const planner::History& hist,
                    std::vector<ProposalPlan>& plans);
  planner::History LowLoadHistory(Round& r, const std::string& name, const SetState& s,
                                  const LoadInput& load, const planner::History& hist);
  planner::History OverloadHistory(Round& r, const std::string& name, const SetState& s,
                                   const LoadInput& load, const planner::History& hist);
  void PublishPlans(Round& r, const std::vector<ProposalPlan>& plans);
  // run()'s stages: approve, wait for or make a plan when no action is in
  // flight; warn once per message about impossible constraints.
  void PlanWhenIdle(Round& r);
  void WarnBlocked(Round& r);
  // C1: ShardSet ownership requests as actions (Auto: started here, and a
  // Reassign in every mode but Observe), proposal entries (Proposal, in
  // plan()) or notes (Observe). Moves for a proposal go to r.requestMoves.
  void AdoptRequests(Round& r);
  // A routing write that only refreshes pod endpoints (C1); true when made.
  bool RefreshDocumentEndpoints(Round& r);
  kube::ApiStatus WriteDocument(Round& r, SetState& s, const Json& doc, const std::string& what);
  kube::ApiStatus WriteRouting(Round& r, SetState& s, const RoutingEdit& edit);
  Result<HookResponse> hook(SetState& s, const std::string& pod, const std::string& path,
                            const std::string& method, const Json& body);
  kube::ApiStatus WriteStatus(Round& r);
  void event(const Json& obj, bool warning, const std::string& reason, const std::string& message);

  ReconcilerDeps deps_;
  runtime::CounterFamily* migrations_ = nullptr;
  runtime::CounterFamily* proposals_ = nullptr;
  std::mutex mu_;
  std::map<std::string, std::string>
      last_warning_;  // policy key -> last Blocked message (event dedup)
  std::map<std::string, int64_t> low_load_since_;  // "policy|set" -> since (kept in memory)
  // "policy|set|pod" -> time of the first sample of the pod's current run
  // over maxUtilization (kept in memory).
  std::map<std::string, int64_t> over_since_;
  NoticeLedger notices_;                         // event shortfalls and flaps already reported
  uint64_t term_base_ = 0;                       // the manager token of the current term
  std::map<std::string, uint64_t> term_tokens_;  // namespace -> our token in that term
};

// Enqueues policies: their own changes, and every policy of the namespace on
// a ShardSet, pod or routing ConfigMap change.
void WireHandlers(kube::Informer& policies, kube::Informer& sets, kube::Informer& pods,
                  kube::Informer& cms, ctrl::Controller& c);

}  // namespace shardcast::migrationpolicy
