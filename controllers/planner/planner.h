// The Shardcast planner: a pure function from (ShardSet state, forecasts,
// policy, recent history, now) to an ordered list of actions with reasons and
// predicted effects. No I/O, no clocks (time is an input), no Kubernetes
// client, no threads; deterministic for the same input. The operator
// translates predictor forecasts and Kubernetes objects into these types.
//
// Loads are absolute, in the ShardSet's capacity metric (CPU millicores or
// requests per second); utilization = load / pod capacity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "util/expected.h"

namespace shardcast::planner {

enum class PodRole { kActive, kWarm };
enum class RangeState { kStable, kMigrating, kShadow };

struct Pod {
  std::string name;
  PodRole role = PodRole::kActive;
  bool ready = true;
  double capacity = 0;  // > 0
};

struct Range {
  uint32_t id = 0;
  uint32_t start = 0;  // inclusive, in the 32-bit key space
  uint32_t end = 0;    // inclusive
  std::string owner;
  std::optional<double> size_bytes;
  std::optional<double> read_fraction;  // 0..1
  std::vector<std::string> echoes;      // read-only replicas
  RangeState state = RangeState::kStable;
};

struct ShardSetState {
  std::string name;
  int min_replicas = 1;
  int max_replicas = 10;
  int warm_pool_size = 1;
  int configured_ranges = 0;  // spec.keySpace.ranges; 0 = ranges.size()
  // spec.keySpace.hashing.loadFactor: the ShardSet controller lets no pod
  // own more than ceil(loadFactor * ranges / ready active pods) and sheds the
  // excess at its next routing write, so a move beyond that bound would be
  // undone. Moves respect it. 0 = no bound.
  double load_factor = 0;
  std::vector<Pod> pods;
  std::vector<Range> ranges;
};

// One forecast series (a pod or a range). Quantiles are of the peak load
// over the horizon.
struct SeriesForecast {
  double observed = 0;
  double p50 = 0, p90 = 0, p99 = 0;
  double prob_exceed = 0;  // P(pod exceeds maxUtilization within the horizon)
  std::optional<double> time_to_crossing_seconds;
  bool trusted = false;  // untrusted: planner acts on `observed` only
};

struct Forecasts {
  double horizon_seconds = 1800;
  std::map<std::string, SeriesForecast> pods;
  std::map<uint32_t, SeriesForecast> ranges;
};

struct Schedule {
  std::string cron;  // 5-field
  int64_t duration_seconds = 0;
};

// A declared load event (MigrationPolicy spec.events[]).
//  - With ranges: while it overlaps [now, now + horizon], the named ranges'
//    predicted loads are multiplied (and their pods' with them).
//  - Without ranges (every range): the forecast controller has already scaled
//    trusted pod forecasts over the horizon, so only pods planned on observed
//    load (no forecast, untrusted or low confidence) are multiplied here, and
//    only before the event starts (once it runs, observed load shows it).
// Either way a pod the event raises over maxUtilization is due early enough
// that its promotion and moves finish their own lead time (promotion +
// perRange x moves) before the event starts: capacity is in place ahead of
// it, not just at it. Every event not yet over is also checked against
// maxReplicas (Plan::eventShortfalls).
struct RangeEvent {
  std::string name;
  int64_t start = 0;  // Unix seconds
  int64_t duration_seconds = 0;
  double multiplier = 1;
  std::vector<uint32_t> ranges;
};

// The most key ranges a ShardSet may have after splits: the CRD's maximum
// for spec.keySpace.ranges. At this count the routing document stays near
// half of the 1 MiB ConfigMap limit even with moves and echoes in flight
// (measured in tests/crds/routing_size.py), so a Split that would go past it
// is not planned: the range is reported blocked instead.
inline constexpr std::size_t kMaxRanges = 2048;

struct Policy {
  double target_utilization = 0.6;
  double max_utilization = 0.8;
  double scale_in_utilization = 0.3;
  double confidence = 0.9;
  int max_concurrent_migrations = 2;
  int max_moves_per_hour = 32;
  int64_t cooldown_seconds = 300;
  int64_t scale_in_stabilization_seconds = 1800;
  std::vector<Schedule> windows;  // empty = always allowed
  std::vector<Schedule> blackouts;
  std::optional<bool> in_window;    // already evaluated; overrides `windows`
  std::optional<bool> in_blackout;  // already evaluated; overrides `blackouts`
  double promotion_lead_seconds = 30;
  double per_range_lead_seconds = 10;
  // Act when time-to-crossing <= needed lead + max(leadMarginSeconds, 0.25 * needed)
  // + decisionIntervalSeconds.
  double lead_margin_seconds = 60;
  // How long until the planner next sees a fresher time to crossing: the
  // forecast step (a forecast, and its crossing, is refreshed once per step).
  // A crossing that would be too close at the next refresh is acted on now.
  double decision_interval_seconds = 0;
  double read_heavy_fraction = 0.7;  // echo instead of split at/above this
  // A read-heavy range at or above this share of its owner's capacity is
  // echoed instead of moved when its owner is relieved.
  double hot_range_fraction = 0.1;
  // A range whose predicted load exceeds this share of the largest ready
  // pod's capacity (never more than targetUtilization) is a giant: echoed
  // when read-heavy, else split.
  double giant_fraction = 0.6;
  // Confidence: a trusted pod forecast whose band (p90 - p50) exceeds this
  // share of capacity is low confidence; such a pod is planned like the
  // reactive arm (observed load) but hot from maxUtilization - margin.
  double low_confidence_band = 0.3;
  double low_confidence_margin = 0.1;
  // A promotion is weighed: expected overload prevented, P(exceed) x (horizon
  // - time to crossing) x overloadWeight pod-seconds, must be at least what
  // it costs, (time to crossing + scaleInStabilization) pod-seconds.
  double overload_weight = 4;
  // Pre-warming: one lead time before a promotion falls due, the ranges it
  // would receive are echoed onto the warm pod it would promote; the moves
  // after the promotion go to that echo and only catch up. Off by default
  // (spec.migration.prewarm, docs/planner.md).
  bool prewarm = false;
  // What keeping an echo in sync costs the echo pod per unit of its range's
  // write load (the owner pays half of it per echo): spec.migration.echoSyncCost.
  double echo_sync_cost = 1.5;
  std::vector<RangeEvent> events;
};

struct History {
  std::vector<int64_t> move_times;                // starts of moves (last hour is used)
  std::map<uint32_t, int64_t> range_last_action;  // per-range cooldown
  // Per-range cooldown of echo changes (AddEcho, RemoveEcho): they cool the
  // range's echoes, merges and splits, but a move to the range's echo (a
  // pre-warmed move, which only catches up) may follow at once.
  std::map<uint32_t, int64_t> range_last_echo;
  std::map<std::string, int64_t> pod_last_action;  // per-pod cooldown
  int in_flight_migrations = 0;
  std::optional<int64_t> low_load_since;  // observed mean utilization < scaleIn since
  // Median duration of the promotions completed in the history: when it is
  // longer than leadTime.promotion, the planner plans ahead with it.
  std::optional<double> promotion_seconds;
  // Median time from a Move's start to its handover (the routing switch),
  // over the Moves completed in the history: when it is longer than
  // leadTime.perRange, the planner plans ahead with it.
  std::optional<double> move_seconds;
  // Start of the newest promotion: no scale-in within scaleInStabilization of
  // it (capacity was needed, or forecast to be, that recently).
  std::optional<int64_t> last_promotion;
  // Pods whose observed load is over maxUtilization in their newest sample
  // but not in the one before it (or the one before was not seen): an
  // unconfirmed overload. A pod with a trusted, confident forecast that does
  // not expect the crossing (P(exceed) < confidence and its quantile at the
  // policy's confidence below maxUtilization) is not relieved for it unless
  // it is over by more than lowConfidence.margin; the next sample over
  // confirms it. Pods not listed are confirmed or not tracked.
  std::set<std::string> unconfirmed_over;
};

struct PlanInput {
  ShardSetState state;
  Forecasts forecasts;
  Policy policy;
  History history;
  int64_t now = 0;  // Unix seconds
};

enum class ActionType { kPromote, kMove, kAddEcho, kRemoveEcho, kSplit, kMerge, kDemote, kScaleIn };
const char* ActionTypeName(ActionType t);

struct PodEffect {
  std::string pod;
  double before = 0;  // predicted utilization
  double after = 0;
};

struct Action {
  ActionType type = ActionType::kMove;
  std::optional<uint32_t> range;     // Move, AddEcho, RemoveEcho, Split, Merge (lower range)
  std::optional<uint32_t> other;     // Merge: the upper range absorbed; Split: the new range id
  std::string pod;                   // Promote, Demote, ScaleIn, AddEcho/RemoveEcho (echo pod)
  std::string from, to;              // Move
  std::optional<uint32_t> split_at;  // Split: first key of the upper half
  double score = 0;                  // Move: migration score
  std::string reason;
  std::vector<PodEffect> effect;
};

struct PodRow {
  std::string pod;
  PodRole role = PodRole::kActive;
  bool ready = true;
  double capacity = 0;
  double observed = 0;   // observed utilization
  double before = 0;     // predicted utilization before the plan
  double after = 0;      // predicted utilization after the plan
  double imbalance = 0;  // before - mean(before) over active pods
  std::size_t ranges_before = 0, ranges_after = 0;
};

struct Finding {
  std::string subject;  // pod or "range/<id>" or "plan"
  std::string message;
};

// A declared event whose load needs more active pods than maxReplicas allows.
// Its load is the current predicted load (peak over the horizon at the policy
// confidence, observed where not trusted) with the event's multiplier on the
// ranges it names (every range when none); podsNeeded keeps every pod at or
// under maxUtilization (ceil(load / (maxUtilization x mean pod capacity))).
struct EventShortfall {
  std::string event;
  int64_t start = 0;  // Unix seconds
  double load = 0;    // predicted load during the event
  int pods_needed = 0;
  int max_replicas = 0;
};

struct Plan {
  std::string id;  // stable hash of the actions, for approval
  std::vector<Action> actions;
  std::vector<PodRow> pods;
  std::vector<Finding> blocked;       // wanted but not done, and why
  std::vector<Finding> notes;         // watching, waiting for lead time, etc.
  std::size_t moved_lower_bound = 0;  // see MovementLowerBound
  std::size_t moves = 0;
  // Flaps refused: a scale-in of a pod acted on (promoted) within the
  // cooldown, or a promotion of a pod demoted within it (findings say which).
  std::size_t flaps_refused = 0;
  std::vector<std::string> flap_pods;  // the pods of flapsRefused, in order
  // Declared events not yet over that maxReplicas cannot cover (see above).
  std::vector<EventShortfall> event_shortfalls;
};

// The plan. Errors name the offending field.
[[nodiscard]] Result<Plan> MakePlan(const PlanInput& in);

// The state after executing every action of `plan` in order.
[[nodiscard]] Result<ShardSetState> ApplyPlan(const ShardSetState& state, const Plan& plan);

// Lower bound on moved ranges: for every pod the planner must relieve (hot and
// due), the fewest of its movable ranges whose predicted loads cover its excess
// over targetUtilization, found exactly by taking the largest first; summed.
// Ignores receiver capacity, so no valid plan relieving those pods moves fewer.
[[nodiscard]] Result<std::size_t> MovementLowerBound(const PlanInput& in);

// Predicted load at the policy confidence from a series' quantiles:
// p50 at <= 0.5, p90 at 0.9, p99 at >= 0.99, linear in between; never below observed.
double QuantileAt(const SeriesForecast& f, double confidence);

}  // namespace shardcast::planner
