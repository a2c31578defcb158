// MigrationPolicy controller: pure parts (no I/O, no clocks; time is an
// input). Parsing of the policy, ShardSet selection and conflict resolution,
// translation of cached objects into the planner's input, proposals and
// approval matching, the routing-document edits of a move, and the per-action
// state machine (NextStep). The reconciler (reconciler.h) only executes what
// these functions decide, one step per round.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controllers/api/migration_policy.h"
#include "controllers/api/shardset.h"
#include "controllers/planner/planner.h"
#include "util/expected.h"
#include "util/label_selector.h"

namespace shardcast::migrationpolicy {

using Json = nlohmann::json;

using api::Mode;
using api::ModeName;

// A policy as this controller uses it: the typed resource (controllers/api/,
// parsed once there) and the planner's view of it (PlannerPolicy).
struct PolicySpec : api::MigrationPolicy {
  planner::Policy planner;  // thresholds, limits, windows, lead times
};

// api::ParseMigrationPolicy (the one parser: defaults, validation, errors
// naming the field) and the controller's view of it.
[[nodiscard]] Result<PolicySpec> ParsePolicy(const Json& obj);

// ---- selection and conflicts ----

struct PolicyRef {
  std::string name;
  int64_t created = 0;
  std::vector<std::string> selected;  // ShardSet names its selector matches
};

struct Conflict {
  std::string shard_set;
  std::vector<std::string> policies;  // sorted by (created, name)
  std::string chosen;                 // the oldest; ties broken by name
};

struct Selection {
  std::vector<std::string> governed;  // ShardSets this policy acts on
  std::vector<Conflict> conflicts;    // ShardSets it shares with other policies
};

// The view of policy `self` among every policy of the namespace. Deterministic:
// the oldest creationTimestamp wins, then the smallest name.
Selection ResolveSelection(const std::string& self, const std::vector<PolicyRef>& all);

// ---- planner input ----

struct PodInfo {
  std::string name;
  std::string role;  // active | warm
  bool ready = false;
  std::string ip;
};

struct ForecastEntry {
  double horizon_seconds = 0;
  double peak = 0, p90 = 0, p99 = 0, prob_exceed = 0;
  bool trusted = false;
};

// Contract C3, read by BuildPlanInput from the ShardSet's status.
// status.forecasts[].rangesRest: the pod's ranges not listed in
// status.rangeForecasts, summed.
struct RangesRest {
  int count = 0;
  double p50 = 0, p90 = 0;
};
struct PodRangeStatus {
  // First time the p90 path crosses capacity x maxUtilization; absent = no
  // crossing within the horizon.
  std::optional<double> time_to_crossing_seconds;
  std::optional<RangesRest> ranges_rest;
};
// status.rangeForecasts[]: the top ranges per pod by p90.
struct RangeForecastEntry {
  uint32_t range = 0;
  std::string pod;  // owner when forecast
  double p50 = 0, p90 = 0;
  std::optional<double> read_share;  // 0..1
  std::optional<double> size_bytes;
};
struct RangeStatus {
  bool published = false;  // some C3 field is present (a C3 forecast controller)
  std::map<std::string, PodRangeStatus> pods;
  std::vector<RangeForecastEntry> ranges;
};

// Observed load of a ShardSet's pods (capacity metric) with the time of each
// pod's sample (Unix seconds; absent = unknown, taken as fresh).
struct ObservedLoad {
  ObservedLoad() = default;
  ObservedLoad(std::map<std::string, double> v) : value(std::move(v)) {}  // NOLINT: implicit
  std::map<std::string, double> value;
  std::map<std::string, int64_t> at;
};

// A range that changed owner (a Move's cutover) at `at` (Unix seconds).
struct Handover {
  uint32_t range = 0;
  std::string from, to;
  int64_t at = 0;
};

struct LoadInput {
  std::map<std::string, double> observed;          // pod -> load (capacity metric)
  std::map<std::string, ForecastEntry> forecasts;  // pod -> ShardSet status.forecasts
  // When each pod's observed sample was taken (absent = unknown) and the
  // handovers of ranges since: a sample taken before a handover of the pod
  // describes the ranges it owned then, and BuildPlanInput corrects it.
  std::map<std::string, int64_t> observed_at;
  std::vector<Handover> handovers;
};

// status.forecasts of a ShardSet; entries with a wrong shape are errors
// naming the field (status.forecasts[2].p90).
[[nodiscard]] Result<std::map<std::string, ForecastEntry>> ParseForecasts(const Json& shardset);
// The C3 fields of a ShardSet's status (status.forecasts[].timeToCrossingSeconds
// and .rangesRest, status.rangeForecasts); absent fields are unknown; errors
// name the field (status.rangeForecasts[3].p90).
[[nodiscard]] Result<RangeStatus> ParseRangeStatus(const Json& shardset);

// CPU usage in millicores from a PodMetrics object (api::ParsePodMetrics,
// summed over containers); nullopt when it carries none.
std::optional<double> PodMetricsMillicores(const Json& pod_metrics);
// The time of a PodMetrics sample (its `timestamp`); nullopt when absent or
// not RFC 3339.
std::optional<int64_t> PodMetricsTime(const Json& pod_metrics);

// Builds the planner input. Range forecasts come from the ShardSet's
// status.rangeForecasts (C3) and go to the planner as range forecasts (p50,
// p90; p99 scaled like the pod's), sizes and read shares; a pod's ranges not
// listed share its rangesRest evenly. When a pod's ranges are all covered
// (rangesRest present), their p50s and p90s are scaled to sum to the pod's,
// so the pod forecast decides how much and the ranges decide which. Malformed
// range forecasts are left out and `note` names the field.
// The ShardSet is read with api::ParseShardSet and
// `routing` (routing.json as JSON) with shardset::ParseRoutingDocument; fails
// when either is invalid (errors name the field). `reactive` tells the caller
// there were no forecasts and the plan runs on observed load only; `noData`
// that there is neither (then the caller plans nothing). Observed load is
// CPU millicores: with capacity.metric RequestsPerSecond it is not used (the
// units differ) and `note` says so; the plan then runs on forecasts alone.
struct BuiltInput {
  planner::PlanInput input;
  bool reactive = false;
  bool no_data = false;
  double capacity = 0;
  api::CapacityMetric metric = api::CapacityMetric::kCpu;
  std::string note;
};
[[nodiscard]] Result<BuiltInput> BuildPlanInput(const Json& shardset,
                                                const std::vector<PodInfo>& pods,
                                                const Json& routing, const LoadInput& load,
                                                const PolicySpec& policy,
                                                const planner::History& history, int64_t now);

// ---- actions (status.actions / status.history) ----

// Action types and phases are enums; their names appear only at the status
// boundary (ActionToJson / ActionFromJson).
enum class ActionType {
  kPromote,
  kMove,
  kAddEcho,
  kRemoveEcho,
  kSplit,
  kMerge,
  kScaleIn,
  kDemote,
  kReassign,  // routing only: the owner is gone with its data (C1 OwnerGone)
};
const char* ActionTypeName(ActionType t);
std::optional<ActionType> ParseActionType(const std::string& s);
ActionType FromPlanner(planner::ActionType t);

enum class Phase {
  kPending,
  kPromoting,
  kMigrating,
  kCopying,
  kShadow,
  kCutover,
  kVerifying,
  kReleasing,  // release intended: the action can only complete
  kAborting,   // abandoned before cutover: abort on the target, then clear marks
  kReverting,  // after cutover: the reverse move (hooks) or a routing flip
  kCompleted,
  kReverted,
  kFailed,
};
const char* PhaseName(Phase p);
std::optional<Phase> ParsePhase(const std::string& s);

// The hook step an action last recorded (status.actions[].hook). `kIntent`
// is written to status BEFORE the call, `kDone` after it succeeded; a crash
// in between re-calls the hook, which the agent answers idempotently by
// action id + hook. `reverse`: a step of the reverse move (C5), whose hook
// action id is "<id>-revert".
enum class HookStep { kNone, kPrepare, kCopy, kCutover, kRelease, kAbort, kEchoAdd, kEchoRemove };
enum class HookState { kIntent, kDone };
const char* HookStepName(HookStep s);
const char* HookStateName(HookState s);

struct HookRecord {
  HookStep step = HookStep::kNone;
  HookState state = HookState::kIntent;
  bool reverse = false;
  bool operator==(const HookRecord& o) const {
    return step == o.step && state == o.state && reverse == o.reverse;
  }
  bool Is(HookStep s, HookState st, bool rev = false) const {
    return step == s && state == st && reverse == rev;
  }
};

// Cumulative router counters of one range (ShardSet status.routerStats, C2).
struct RouterCounters {
  int64_t observed_at = 0;
  double requests = 0, errors = 0;
  double compared = 0, mismatches = 0;
  double owner_seconds = 0, target_seconds = 0;
};

struct ActionRecord {
  std::string id;
  std::string shard_set;
  ActionType type = ActionType::kMove;
  std::optional<uint32_t> range;
  std::optional<uint32_t>
      other;  // Split: id of the new upper half; Merge: the upper range absorbed
  std::optional<uint32_t> split_at;  // Split: first key of the upper half
  std::string source;
  std::string target;
  Phase phase = Phase::kPending;
  int64_t started_at = 0;  // 0 = not started
  int64_t phase_started_at = 0;
  int64_t finished_at = 0;
  int attempts = 0;
  std::string message;
  // Epoch of the routing document our last routing write for this action
  // produced (0 = none). Kept in status: a round whose cached routing is
  // older waits instead of judging the action on a stale document.
  int64_t routing_epoch = 0;
  // After a failed step: not before this time (0 = now). In status, so that
  // the backoff holds although our own status write re-queues the policy.
  int64_t retry_at = 0;
  HookRecord hook;  // status.actions[].hook
  // Router counters when Shadow (or Verifying) began: the baseline of the
  // deltas judged at its end (status.actions[].routerBaseline).
  std::optional<RouterCounters> router_baseline;
  // The ShardSet ownership request it carries out (C1: ScaleIn, Shedding,
  // OwnerGone; "" for the policy's own plans); status ownershipRequest.
  std::string request;

  bool terminal() const {
    return phase == Phase::kCompleted || phase == Phase::kReverted || phase == Phase::kFailed;
  }
  // The hook action id of the step in `hook` ("<id>-revert" for the reverse move).
  std::string HookActionId() const { return hook.reverse ? id + "-revert" : id; }
};

Json ActionToJson(const ActionRecord& a);
[[nodiscard]] Result<ActionRecord> ActionFromJson(const Json& j, const std::string& field);

// The actions of a plan as status entries (phase Pending), ids "<plan>-<i>".
std::vector<ActionRecord> ActionsFromPlan(const std::string& plan_id, const std::string& shard_set,
                                          const planner::Plan& plan);

// ---- ownership requests (C1: ShardSet status.ownershipRequests) ----

struct OwnershipRequest {
  uint32_t range = 0;
  std::string owner;
  std::string reason;  // ScaleIn | Shedding | OwnerGone
};
// Tolerant: malformed entries are skipped (absent = no request).
std::vector<OwnershipRequest> ParseOwnershipRequests(const Json& shardset);

// Actions for the requests that no action in `unfinished` covers (one not
// finished, or finished within the last minute): Move
// (ScaleIn, Shedding) or Reassign (OwnerGone) to the Ready active pod, not
// itself a requested owner, that owns the fewest ranges in `doc` (ties by
// name). A request with no such pod gets no action (the caller reports it).
// Ids are "<shardSet>-<reason>-<range>-<now>".
std::vector<ActionRecord> ActionsForRequests(const std::vector<OwnershipRequest>& requests,
                                             const std::string& shard_set, const Json& doc,
                                             const std::vector<PodInfo>& pods,
                                             const std::vector<ActionRecord>& unfinished,
                                             int64_t now);

// routing.json with every owner/echo/target endpoint that differs from its
// pod's current one (`endpoints`: pod -> "ip:port") rewritten, epoch + 1;
// nullopt when nothing differs. Changes no owner.
std::optional<Json> RefreshEndpoints(const Json& doc,
                                     const std::map<std::string, std::string>& endpoints);

// ---- proposals ----

// Proposal id: the planner's plan id (hash of the actions) plus the creation
// time, so an expired proposal re-planned to the same actions gets a new id.
std::string ProposalId(const std::string& plan_id, int64_t created_at);

struct ProposalPlan {
  std::string shard_set;
  planner::Plan plan;
  std::optional<double> bytes_moved;  // sum of sizeBytes of moved ranges, when known
};

// status.proposal for `plans` made at `now`; `note` (e.g. Observe mode) is
// the first reason. Per-pod predicted utilization before/after and moved
// ranges/bytes are in `reasons` (the CRD has no other place for them).
Json BuildProposal(const std::vector<ProposalPlan>& plans, int64_t now, int64_t ttl_seconds,
                   const std::string& note);

enum class ProposalVerdict {
  kNone,      // no proposal
  kPending,   // valid, waiting for approval
  kApproved,  // the annotation names this proposal and it has not expired
  kExpired,   // past expiresAt: discard and re-plan
};
// `approve` is the annotation's value. An approval of an expired proposal is
// not honoured (the operator re-plans and publishes a new id).
ProposalVerdict JudgeProposal(const Json& proposal, const std::string& approve, int64_t now);

// Actions of an approved proposal (status.proposal.actions) as Pending status
// actions. Errors name the field.
[[nodiscard]] Result<std::vector<ActionRecord>> ActionsFromProposal(const Json& proposal);

// ---- the state machine ----

struct RangeView {
  bool found = false;
  uint32_t start = 0, end = 0;
  std::string owner;
  std::string state = "stable";  // stable | migrating | shadow
  std::string source, target;
  std::vector<std::string> echoes;
};

struct PodView {
  bool exists = false;
  bool active = false;
  bool ready = false;
};

struct StepWorld {
  int64_t now = 0;
  RangeView range;  // the action's range in the published document
  RangeView other;  // Split/Merge: the range `other` names
  PodView source, target;
  int active_pods = 0;    // live active pods of the ShardSet
  int replicas_spec = 0;  // ShardSet spec.replicas
  int max_replicas = 10;
  int min_replicas = 1;
  bool hooks = false;                        // the ShardSet declares spec.hooks
  std::optional<double> target_utilization;  // observed, 0..
  std::optional<double> source_utilization;  // observed, 0..
  // The ShardSet declares spec.routers (C2): shadow is judged from router
  // statistics, and verification may use them.
  bool router_telemetry = false;
  // The range's cumulative counters in ShardSet status.routerStats, when listed.
  std::optional<RouterCounters> router_now;
};

struct StepConfig {
  bool shadow = false;
  double shadow_fraction = 0.1;
  int64_t shadow_seconds = 60;
  int64_t verification_seconds = 120;
  double max_utilization = 0.8;
  double max_error_rate = 0.01;
  double max_latency_ratio = 1.5;
  int max_attempts = 5;  // hook/write failures before abandoning
  int64_t promotion_timeout_seconds = 600;
  int64_t phase_timeout_seconds = 1800;  // Migrating/Copying without progress
  // After the verification window, how long a move without any utilization
  // sample or router statistics of its target waits for the first one before
  // it fails closed: a newly promoted or created pod has no PodMetrics until
  // metrics-server's next scrape (its resolution is real time, 15 s to 60 s).
  int64_t evidence_timeout_seconds = 120;
};

enum class Write {
  kNone,           // nothing external: only `next` goes to status
  kWait,           // nothing to do yet; requeue
  kScaleReplicas,  // ask for `replicas` active pods in status.replicaRequests (never the ShardSet
                   // spec)
  kMarkMigrating,  // routing: state migrating, source=owner, target
  kMarkShadow,     // routing: state shadow + shadowFraction
  kCutover,        // routing: owner = target, stable
  kRevert,         // routing: owner = source, stable (clears marks)
  kAddEcho,        // routing: add echo `target` to the range
  kRemoveEcho,     // routing: remove echo `target`
  kSplit,          // routing: range [start, splitAt-1] keeps its id, [splitAt, end] becomes `other`
  kMerge,          // routing: range absorbs the adjacent `other` (same owner, both stable)
  kReassign,       // routing: owner = target, stable (the old owner is gone with its data)
  // Hook calls: made only when the record carries the step's intent
  // (a.hook); the call's source/target are swapped for a reverse step.
  kHookPrepare,     // POST prepare on the target
  kHookCopy,        // POST copy on the target (idempotent), then poll progress until done
  kHookCutover,     // POST cutover on the target
  kHookRelease,     // POST release on the source
  kHookAbort,       // POST abort on the target, then poll progress until done
  kHookEchoAdd,     // POST echo-add on the echo pod, then poll progress until done
  kHookEchoRemove,  // POST echo-remove on the echo pod
};
// Whether `w` calls a hook whose job the executor polls until progress `done`.
bool PollsProgress(Write w);
const char* WriteName(Write w);

struct Step {
  Write write = Write::kWait;
  ActionRecord next;  // the record once the write succeeded
  int replicas = 0;   // kScaleReplicas
  std::string event;  // Event reason to emit after success ("" = none)
  std::string event_message;
  bool warning = false;
  std::chrono::milliseconds requeue{1000};
};

// One idempotent step of `a` given what is observed now. Every decision is
// made from the observed state, so re-running a step whose write already
// happened (crash before the status write) advances without writing again.
Step NextStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg);

// The record after a failed write or hook call: attempts+1; after
// cfg.maxAttempts the action is abandoned: a Move before its cutover hook
// goes to Aborting, after it to Reverting (the reverse move), other types
// to Failed. Releasing completes (never reverts). A step that cannot be
// given up (MustFinish: Aborting, Reverting, Cutover after its hook intent,
// RemoveEcho out of routing) never gives up: it keeps retrying with
// StuckBackoff, and its message names `pod` (the pod the failed hook
// called, "" for a routing write) as unreachable. retryAt and attempts are
// in status, so the backoff and the retry survive an operator restart.
ActionRecord AfterFailure(const ActionRecord& a, const std::string& error, const StepConfig& cfg,
                          int64_t now, const std::string& pod = "");
// Backoff before retrying after `attempts` failures: 1s, 2s, 4s ... 30s.
std::chrono::milliseconds RetryBackoff(int attempts);
// Whether `a` is in a step that must finish (never abandoned; see AfterFailure).
bool MustFinish(const ActionRecord& a);
// Backoff of a step that must finish, after `attempts` failures: as
// RetryBackoff up to cfg.maxAttempts, then doubling on from 30s up to
// kStuckBackoffMaxSeconds.
inline constexpr int64_t kStuckBackoffMaxSeconds = 300;
std::chrono::milliseconds StuckBackoff(int attempts, const StepConfig& cfg);
// The pod the hook write `w` of `a` calls ("" for other writes): release
// on the source, every other hook on the target (the echo pod for echo
// hooks); source and target swapped for a step of the reverse move.
std::string HookPod(const ActionRecord& a, Write w);
// After a failure (`after` = AfterFailure's record) of a step that must
// finish: a Warning Event (reason kStuckEventReason) naming the action and
// the unreachable pod when attempts reach cfg.maxAttempts, and again every
// kStuckReminderEvery attempts after; nullopt otherwise.
inline constexpr const char* kStuckEventReason = "ActionRetrying";
inline constexpr int kStuckReminderEvery = 12;
struct StuckNotice {
  std::string reason;
  std::string message;
};
std::optional<StuckNotice> NoticeAfterFailure(const ActionRecord& after, const std::string& pod,
                                              const std::string& error, const StepConfig& cfg);
// Whether `a` is retrying a step that must finish after cfg.maxAttempts
// failures (the policy's Planned condition names it).
bool Stuck(const ActionRecord& a, const StepConfig& cfg);

// Hook progress (GET progressPath): {"state": "idle|copying|done|failed",
// "progress": 0..1}.
struct HookProgress {
  std::string state;
  double progress = 0;
};
[[nodiscard]] Result<HookProgress> ParseHookProgress(const std::string& body);

// ---- routing edits ----

struct RoutingEdit {
  Write write = Write::kNone;
  uint32_t range = 0;
  std::string source, target;
  std::string target_endpoint;  // mark, cutover, echo: the target's endpoint
  std::string source_endpoint;  // revert: the source's endpoint
  double shadow_fraction = 0;
  uint32_t other = 0;     // kSplit / kMerge
  uint32_t split_at = 0;  // kSplit
};
// routing.json after `edit`, with epoch + 1. Errors name the field.
[[nodiscard]] Result<Json> ApplyRoutingEdit(const Json& doc, const RoutingEdit& edit);
RangeView ViewRange(const Json& doc, uint32_t id);

// ---- limits ----

// ShardSet status.routerStats.ranges by range id (C2). Tolerant: absent or
// malformed entries are skipped (absent = unknown).
std::map<uint32_t, RouterCounters> ParseRouterStats(const Json& shardset);

// Whether another Move/AddEcho may start: in flight < maxConcurrentMigrations
// and moves started within the last hour < maxMovesPerHour.
bool MayStartMigration(const std::vector<ActionRecord>& actions,
                       const std::vector<ActionRecord>& history, const planner::Policy& p,
                       int64_t now);
// Whether a Pending action may start now under the policy's windows and
// blackouts (the planner's rule, applied to execution and approval too);
// `why` says why not.
bool ExecutionAllowed(const planner::Policy& p, int64_t now, std::string* why);
// Planner history from status.actions + status.history.
planner::History HistoryFrom(const std::vector<ActionRecord>& actions,
                             const std::vector<ActionRecord>& history, int64_t now);
// The owner changes of ShardSet `shard_set`'s ranges in status.actions +
// status.history: every Move past its cutover (Verifying, Releasing,
// Completed), at the cutover (the router baseline taken then, else the
// phase start, else the finish). Reverted and failed moves left their range
// where it was and are not listed.
std::vector<Handover> Handovers(const std::vector<ActionRecord>& actions,
                                const std::vector<ActionRecord>& history,
                                const std::string& shard_set);

// C1 Moves (by ShardSet) go first in their ShardSet's plan of a proposal
// (a plan "plan-requests-<set>" when the planner had none); the planner's
// actions on the same ranges are dropped.
void MergeRequestMoves(const std::map<std::string, std::vector<ActionRecord>>& request_moves,
                       std::vector<ProposalPlan>& plans);

// ---- conditions ----

struct Condition {
  std::string type, status, reason, message;
};
// Conditions keep lastTransitionTime when their status is unchanged.
Json BuildConditions(const std::vector<Condition>& conds, const Json& previous, int64_t generation,
                     const std::string& now);

}  // namespace shardcast::migrationpolicy
