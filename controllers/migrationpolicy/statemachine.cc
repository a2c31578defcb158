// The per-action state machine (pure): names at the status boundary,
// NextStep for every type but Move (move_step.cc), failure handling.
#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/migrationpolicy/step_util.h"

namespace shardcast::migrationpolicy {
namespace {

using namespace step;
using ms = std::chrono::milliseconds;

constexpr std::array<std::pair<ActionType, const char*>, 9> kTypeNames = {{
    {ActionType::kPromote, "Promote"},
    {ActionType::kMove, "Move"},
    {ActionType::kAddEcho, "AddEcho"},
    {ActionType::kRemoveEcho, "RemoveEcho"},
    {ActionType::kSplit, "Split"},
    {ActionType::kMerge, "Merge"},
    {ActionType::kScaleIn, "ScaleIn"},
    {ActionType::kDemote, "Demote"},
    {ActionType::kReassign, "Reassign"},
}};

constexpr std::array<std::pair<Phase, const char*>, 13> kPhaseNames = {{
    {Phase::kPending, "Pending"},
    {Phase::kPromoting, "Promoting"},
    {Phase::kMigrating, "Migrating"},
    {Phase::kCopying, "Copying"},
    {Phase::kShadow, "Shadow"},
    {Phase::kCutover, "Cutover"},
    {Phase::kVerifying, "Verifying"},
    {Phase::kReleasing, "Releasing"},
    {Phase::kAborting, "Aborting"},
    {Phase::kReverting, "Reverting"},
    {Phase::kCompleted, "Completed"},
    {Phase::kReverted, "Reverted"},
    {Phase::kFailed, "Failed"},
}};

constexpr std::array<std::pair<HookStep, const char*>, 8> kHookNames = {{
    {HookStep::kNone, ""},
    {HookStep::kPrepare, "Prepare"},
    {HookStep::kCopy, "Copy"},
    {HookStep::kCutover, "Cutover"},
    {HookStep::kRelease, "Release"},
    {HookStep::kAbort, "Abort"},
    {HookStep::kEchoAdd, "EchoAdd"},
    {HookStep::kEchoRemove, "EchoRemove"},
}};

template <typename E, size_t N>
const char* NameOf(const std::array<std::pair<E, const char*>, N>& names, E v) {
  for (const auto& [e, n] : names) {
    if (e == v) return n;
  }
  return "?";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, const char*>, N>& names,
                         const std::string& s) {
  for (const auto& [e, n] : names) {
    if (s == n) return e;
  }
  return std::nullopt;
}

Step PromoteStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  const int64_t now = w.now;
  if (a.phase == Phase::kPending) {
    return Go(Write::kNone, Enter(a, Phase::kPromoting, now, "promoting " + a.target),
              "PromotionRequested", a.id + ": promoting warm pod " + a.target);
  }
  if (!w.target.exists) {
    return Go(Write::kNone, Enter(a, Phase::kFailed, now, "pod " + a.target + " does not exist"),
              "PromotionFailed", a.id + ": pod " + a.target + " does not exist", true);
  }
  if (w.target.active && w.target.ready) {
    return Go(Write::kNone, Enter(a, Phase::kCompleted, now, a.target + " is active"), "Promoted",
              a.id + ": " + a.target + " is active");
  }
  if (now - a.phase_started_at > cfg.promotion_timeout_seconds) {
    return Go(Write::kNone, Enter(a, Phase::kFailed, now, a.target + " was not promoted in time"),
              "PromotionFailed",
              a.id + ": " + a.target + " was not promoted within " +
                  std::to_string(cfg.promotion_timeout_seconds) + "s",
              true);
  }
  if (!w.target.active && w.replicas_spec <= w.active_pods) {
    if (w.active_pods + 1 > w.max_replicas) {
      const std::string m = "maxReplicas=" + std::to_string(w.max_replicas) + " reached";
      return Go(Write::kNone, Enter(a, Phase::kFailed, now, m), "PromotionFailed", a.id + ": " + m,
                true);
    }
    Step s = Go(Write::kScaleReplicas, a);
    s.next.message = "asked the ShardSet for " + std::to_string(w.active_pods + 1) + " replicas";
    s.replicas = w.active_pods + 1;
    return s;
  }
  return Wait(a, ms(1000), "waiting for the ShardSet controller to promote " + a.target);
}

Step ScaleInStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  const int64_t now = w.now;
  if (a.phase == Phase::kPending) {
    if (w.replicas_spec < w.active_pods) {  // the patch already happened
      return Go(Write::kNone, Enter(a, Phase::kVerifying, now, "draining"));
    }
    if (w.replicas_spec - 1 < w.min_replicas) {
      const std::string m = "minReplicas=" + std::to_string(w.min_replicas) + " reached";
      return Go(Write::kNone, Enter(a, Phase::kFailed, now, m), "ScaleInFailed",
                a.id + ": minReplicas reached", true);
    }
    Step s =
        Go(Write::kScaleReplicas, Enter(a, Phase::kVerifying, now, "draining"), "ScaleInStarted",
           a.id + ": " + ActionTypeName(a.type) + " to " + std::to_string(w.replicas_spec - 1) +
               " active pods");
    s.replicas = w.replicas_spec - 1;
    return s;
  }
  if (w.active_pods <= w.replicas_spec) {
    return Go(Write::kNone,
              Enter(a, Phase::kCompleted, now, "active pods: " + std::to_string(w.active_pods)),
              "ScaledIn", a.id + ": " + std::to_string(w.active_pods) + " active pods");
  }
  if (now - a.phase_started_at > cfg.phase_timeout_seconds) {
    return Go(Write::kNone, Enter(a, Phase::kFailed, now, "scale-in did not finish in time"),
              "ScaleInFailed", a.id + ": scale-in did not finish", true);
  }
  return Wait(a, ms(1000), "waiting for the ShardSet controller to drain");
}

// AddEcho: echo-add on the echo pod (intent, call, progress done), then the
// echo goes into routing. RemoveEcho: out of routing first, then echo-remove.
Step EchoStep(const ActionRecord& a, const StepWorld& w) {
  const int64_t now = w.now;
  const bool add = a.type == ActionType::kAddEcho;
  const std::string what = a.id + ": " + RangeName(a) + " echo " + a.target;
  if (a.phase == Phase::kAborting) {  // an abandoned AddEcho: stop the follower
    if (a.hook.Is(HookStep::kEchoRemove, HookState::kIntent)) {
      return Go(Write::kHookEchoRemove,
                WithHook(Enter(a, Phase::kFailed, now, a.message + "; echo removed"),
                         HookStep::kEchoRemove, HookState::kDone));
    }
    return Go(Write::kNone, Enter(a, Phase::kFailed, now, a.message));
  }
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, now, RangeName(a) + " is not in the routing document"));
  }
  const bool present =
      std::find(w.range.echoes.begin(), w.range.echoes.end(), a.target) != w.range.echoes.end();
  if (!add) {
    if (present) {
      ActionRecord n = Enter(a, w.hooks ? Phase::kMigrating : Phase::kCompleted, now,
                             "echo removed from routing");
      if (w.hooks) n = WithHook(n, HookStep::kEchoRemove, HookState::kIntent);
      return Go(Write::kRemoveEcho, n, w.hooks ? "" : "EchoRemoved", w.hooks ? "" : what);
    }
    if (w.hooks && !a.hook.Is(HookStep::kEchoRemove, HookState::kIntent)) {
      return Record(
          WithHook(Enter(a, Phase::kMigrating, now), HookStep::kEchoRemove, HookState::kIntent),
          "calling echo-remove on " + a.target);
    }
    return Go(w.hooks ? Write::kHookEchoRemove : Write::kNone,
              WithHook(Enter(a, Phase::kCompleted, now, "echo removed"), HookStep::kEchoRemove,
                       HookState::kDone),
              "EchoRemoved", what);
  }
  if (present) {
    return Go(Write::kNone, Enter(a, Phase::kCompleted, now, "echo present"), "EchoAdded", what);
  }
  // A warm pod may hold an echo too: the planner pre-warms the pod it will
  // promote with the ranges it will receive.
  if (!w.target.exists || !w.target.ready) {
    if (now - (a.phase_started_at ? a.phase_started_at : now) > 600) {
      return Go(Write::kNone,
                Enter(a, Phase::kFailed, now, "echo pod " + a.target + " is not a ready pod"));
    }
    return Wait(Enter(a, Phase::kMigrating, now), ms(1000), "waiting for " + a.target);
  }
  if (w.hooks && !a.hook.Is(HookStep::kEchoAdd, HookState::kDone)) {
    if (!a.hook.Is(HookStep::kEchoAdd, HookState::kIntent)) {
      return Record(
          WithHook(Enter(a, Phase::kCopying, now), HookStep::kEchoAdd, HookState::kIntent),
          "calling echo-add on " + a.target);
    }
    ActionRecord n = WithHook(a, HookStep::kEchoAdd, HookState::kDone);
    n.message = "echo filled on " + a.target + "; adding it to routing";
    return Go(Write::kHookEchoAdd, n);
  }
  return Go(Write::kAddEcho, Enter(a, Phase::kCompleted, now, "echo added"), "EchoAdded", what);
}

// Split and Merge only re-cut the key space on the same owner: one routing
// write, no data movement. Both are idempotent: a split whose upper half
// already exists (or a merge whose upper range is gone) is done.
Step SplitMergeStep(const ActionRecord& a, const StepWorld& w) {
  const int64_t now = w.now;
  const bool split = a.type == ActionType::kSplit;
  const std::string type = ActionTypeName(a.type);
  auto fail = [&](const std::string& m, const std::string& short_m) {
    return Go(Write::kNone, Enter(a, Phase::kFailed, now, m), "ActionFailed", a.id + ": " + short_m,
              true);
  };
  if (!a.range || !a.other || (split && !a.split_at)) {
    return fail(type + " without its range ids", type + " without its range ids");
  }
  const std::string what =
      RangeName(a) + (split ? " split at " + std::to_string(*a.split_at)
                            : " merged with range " + std::to_string(*a.other));
  const std::string event = split ? "RangeSplit" : "RangesMerged";
  if (!w.range.found) {
    const std::string m = RangeName(a) + " is not in the routing document";
    return fail(m, m);
  }
  if (split && w.other.found) {
    if (w.range.end + 1 == *a.split_at && w.other.start == *a.split_at) {
      return Go(Write::kNone, Enter(a, Phase::kCompleted, now, what), event, a.id + ": " + what);
    }
    const std::string m = "range id " + std::to_string(*a.other) + " is already in use";
    return fail(m, m);
  }
  if (!split && !w.other.found) {
    return Go(Write::kNone, Enter(a, Phase::kCompleted, now, what), event, a.id + ": " + what);
  }
  // Not while a move, shadow or echo is in flight on the ranges involved.
  const bool busy = w.range.state != "stable" || (!split && w.other.state != "stable");
  if (busy) {
    if (a.phase_started_at > 0 && now - a.phase_started_at > 600) {
      return fail("the ranges stayed busy (migrating or shadowed) for 10 minutes", "ranges busy");
    }
    ActionRecord n = a.phase == Phase::kPending ? Enter(a, Phase::kMigrating, now) : a;
    return Wait(n, ms(2000), "waiting for the ranges to be stable");
  }
  if (split && !(*a.split_at > w.range.start && *a.split_at <= w.range.end)) {
    return fail("splitAt " + std::to_string(*a.split_at) + " is outside " + RangeName(a),
                "splitAt outside the range");
  }
  if (!split && (w.range.end == UINT32_MAX || w.range.end + 1 != w.other.start ||
                 w.range.owner != w.other.owner)) {
    return fail("range " + std::to_string(*a.other) + " is not adjacent on the same owner",
                "ranges not adjacent on one owner");
  }
  return Go(split ? Write::kSplit : Write::kMerge, Enter(a, Phase::kCompleted, now, what), event,
            a.id + ": " + what);
}

// Reassign (C1 OwnerGone): the old owner is gone with its data; no hook can
// copy from it. Routing only, with a Warning naming the range and owner.
Step ReassignStep(const ActionRecord& a, const StepWorld& w) {
  const int64_t now = w.now;
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, now, RangeName(a) + " is not in the routing document"));
  }
  if (w.range.owner == a.target) {
    return Go(Write::kNone, Enter(a, Phase::kCompleted, now, RangeName(a) + " reassigned"));
  }
  if (w.range.owner != a.source) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, now,
                    RangeName(a) + " is now owned by " + w.range.owner + ", not " + a.source));
  }
  if (!w.target.exists || !w.target.active || !w.target.ready) {
    return Wait(Enter(a, Phase::kMigrating, now), ms(1000),
                "waiting for " + a.target + " to be active and ready");
  }
  return Go(
      Write::kReassign,
      Enter(a, Phase::kCompleted, now,
            RangeName(a) + " reassigned to " + a.target + "; its data on " + a.source + " is lost"),
      "RangeDataLost",
      a.id + ": " + RangeName(a) + " of gone pod " + a.source + " reassigned to " + a.target +
          " without its data",
      true);
}

std::string Seconds(std::chrono::milliseconds d) { return std::to_string(d.count() / 1000) + "s"; }

}  // namespace

// Phases from which an abandoned step has to finish instead of giving up.
bool MustFinish(const ActionRecord& a) {
  if (a.type == ActionType::kMove) {
    if (a.phase == Phase::kAborting || a.phase == Phase::kReverting) return true;
    // The cutover hook may have run: the data is on the target; no abort.
    return a.phase == Phase::kCutover && a.hook.step == HookStep::kCutover;
  }
  // The echo is out of routing; echo-remove must still run.
  return a.type == ActionType::kRemoveEcho && a.phase == Phase::kMigrating;
}

const char* ActionTypeName(ActionType t) { return NameOf(kTypeNames, t); }
std::optional<ActionType> ParseActionType(const std::string& s) { return ValueOf(kTypeNames, s); }
const char* PhaseName(Phase p) { return NameOf(kPhaseNames, p); }
std::optional<Phase> ParsePhase(const std::string& s) { return ValueOf(kPhaseNames, s); }
const char* HookStepName(HookStep s) { return NameOf(kHookNames, s); }
const char* HookStateName(HookState s) { return s == HookState::kIntent ? "Intent" : "Done"; }

ActionType FromPlanner(planner::ActionType t) {
  switch (t) {
    case planner::ActionType::kPromote:
      return ActionType::kPromote;
    case planner::ActionType::kMove:
      return ActionType::kMove;
    case planner::ActionType::kAddEcho:
      return ActionType::kAddEcho;
    case planner::ActionType::kRemoveEcho:
      return ActionType::kRemoveEcho;
    case planner::ActionType::kSplit:
      return ActionType::kSplit;
    case planner::ActionType::kMerge:
      return ActionType::kMerge;
    case planner::ActionType::kDemote:
      return ActionType::kDemote;
    case planner::ActionType::kScaleIn:
      return ActionType::kScaleIn;
  }
  return ActionType::kMove;
}

const char* WriteName(Write w) {
  static constexpr const char* kNames[] = {
      "None",        "Wait",      "ScaleReplicas", "MarkMigrating", "MarkShadow",
      "Cutover",     "Revert",    "AddEcho",       "RemoveEcho",    "Split",
      "Merge",       "Reassign",  "HookPrepare",   "HookCopy",      "HookCutover",
      "HookRelease", "HookAbort", "HookEchoAdd",   "HookEchoRemove"};
  const auto i = static_cast<size_t>(w);
  return i < std::size(kNames) ? kNames[i] : "?";
}

bool PollsProgress(Write w) {
  return w == Write::kHookCopy || w == Write::kHookAbort || w == Write::kHookEchoAdd;
}

Step NextStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  if (a.terminal()) return Wait(a, ms(0));
  switch (a.type) {
    case ActionType::kMove:
      return MoveStep(a, w, cfg);
    case ActionType::kPromote:
      return PromoteStep(a, w, cfg);
    case ActionType::kScaleIn:
    case ActionType::kDemote:
      return ScaleInStep(a, w, cfg);
    case ActionType::kAddEcho:
    case ActionType::kRemoveEcho:
      return EchoStep(a, w);
    case ActionType::kSplit:
    case ActionType::kMerge:
      return SplitMergeStep(a, w);
    case ActionType::kReassign:
      return ReassignStep(a, w);
  }
  return Go(Write::kNone, Enter(a, Phase::kFailed, w.now, "unknown action type"),
            "ActionUnsupported", a.id + ": unknown action type", true);
}

ActionRecord AfterFailure(const ActionRecord& a, const std::string& error, const StepConfig& cfg,
                          int64_t now, const std::string& pod) {
  ActionRecord n = a;
  n.attempts = a.attempts + 1;
  n.message = "attempt " + std::to_string(n.attempts) + " failed: " + error;
  if (MustFinish(a)) {
    const auto wait = StuckBackoff(n.attempts, cfg);
    n.retry_at = now + wait.count() / 1000;
    if (n.attempts >= cfg.max_attempts) {
      n.message += std::string("; ") + (pod.empty() ? "" : "pod " + pod + " unreachable; ") +
                   PhaseName(a.phase) + " cannot be given up: retrying in " + Seconds(wait);
    }
    return n;
  }
  if (n.attempts < cfg.max_attempts) {
    n.retry_at = now + RetryBackoff(n.attempts).count() / 1000;
    return n;
  }
  n.retry_at = 0;
  const std::string why = "abandoned after " + std::to_string(n.attempts) + " attempts: " + error;
  if (a.type == ActionType::kMove) {
    switch (a.phase) {
      case Phase::kMigrating:
      case Phase::kCopying:
      case Phase::kShadow:
      case Phase::kCutover: {  // before the cutover hook (MustFinish covers after)
        ActionRecord b = Enter(n, Phase::kAborting, now, why);
        b.hook = a.hook.step != HookStep::kNone ? HookRecord{HookStep::kAbort} : HookRecord{};
        b.router_baseline.reset();
        return b;
      }
      case Phase::kVerifying: {
        ActionRecord b = Enter(n, Phase::kReverting, now, why);
        b.hook = a.hook.step != HookStep::kNone
                     ? HookRecord{HookStep::kPrepare, HookState::kIntent, true}
                     : HookRecord{};
        return b;
      }
      case Phase::kReleasing:  // release intended: only completion is left
        return Enter(n, Phase::kCompleted, now,
                     "moved; release on " + a.source + " not confirmed (" + why +
                         "); the source's gone marker keeps its stale keys unreachable");
      default:
        break;
    }
  }
  if (a.type == ActionType::kAddEcho && a.hook.step == HookStep::kEchoAdd) {
    ActionRecord b = Enter(n, Phase::kAborting, now, why);
    b.hook = HookRecord{HookStep::kEchoRemove};
    return b;
  }
  return Enter(n, Phase::kFailed, now, why);
}

std::chrono::milliseconds RetryBackoff(int attempts) {
  int64_t s = int64_t{1} << std::clamp(attempts - 1, 0, 5);
  return ms(std::min<int64_t>(s, 30) * 1000);
}

std::chrono::milliseconds StuckBackoff(int attempts, const StepConfig& cfg) {
  if (attempts < cfg.max_attempts) return RetryBackoff(attempts);
  const int64_t s = int64_t{30} << std::clamp(attempts - cfg.max_attempts, 0, 10);
  return ms(std::min<int64_t>(s, kStuckBackoffMaxSeconds) * 1000);
}

std::string HookPod(const ActionRecord& a, Write w) {
  const std::string& src = a.hook.reverse ? a.target : a.source;
  const std::string& tgt = a.hook.reverse ? a.source : a.target;
  switch (w) {
    case Write::kHookRelease:
      return src;
    case Write::kHookPrepare:
    case Write::kHookCopy:
    case Write::kHookCutover:
    case Write::kHookAbort:
    case Write::kHookEchoAdd:
    case Write::kHookEchoRemove:
      return tgt;
    default:
      return "";
  }
}

bool Stuck(const ActionRecord& a, const StepConfig& cfg) {
  return !a.terminal() && MustFinish(a) && a.attempts >= cfg.max_attempts;
}

std::optional<StuckNotice> NoticeAfterFailure(const ActionRecord& after, const std::string& pod,
                                              const std::string& error, const StepConfig& cfg) {
  if (!Stuck(after, cfg)) return std::nullopt;
  if ((after.attempts - cfg.max_attempts) % kStuckReminderEvery != 0) return std::nullopt;
  StuckNotice n;
  n.reason = kStuckEventReason;
  n.message = after.id + ": " + PhaseName(after.phase) + " of " + RangeName(after) +
              (pod.empty() ? std::string(" keeps failing") : " cannot reach pod " + pod) +
              " after " + std::to_string(after.attempts) + " attempts (" + error +
              "); it cannot be given up and is retried every " +
              Seconds(StuckBackoff(after.attempts, cfg)) + " at most";
  return n;
}

Result<HookProgress> ParseHookProgress(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return unexpected(Error{"progress: not a JSON object"});
  if (!j.contains("state") || !j["state"].is_string())
    return unexpected(Error{"progress.state: required string"});
  HookProgress p;
  p.state = j["state"].get<std::string>();
  if (p.state != "idle" && p.state != "copying" && p.state != "done" && p.state != "failed") {
    return unexpected(
        Error{"progress.state: must be idle, copying, done or failed, got \"" + p.state + "\""});
  }
  if (j.contains("progress")) {
    if (!j["progress"].is_number()) return unexpected(Error{"progress.progress: must be a number"});
    p.progress = std::clamp(j["progress"].get<double>(), 0.0, 1.0);
  }
  return p;
}

}  // namespace shardcast::migrationpolicy
