// The per-action state machine and the routing-document edits (pure).
#include <algorithm>
#include <cmath>
#include <set>

#include "controllers/migrationpolicy/migrationpolicy.h"

namespace shardcast::migrationpolicy {
namespace {

ActionRecord Enter(ActionRecord a, const std::string& phase, int64_t now,
                   std::string message = {}) {
  if (a.phase != phase) {
    a.phase = phase;
    a.phaseStartedAt = now;
    a.attempts = 0;
  }
  if (a.startedAt == 0) a.startedAt = now;
  if (a.terminal()) a.finishedAt = now;
  a.message = std::move(message);
  return a;
}

Step Wait(const ActionRecord& a, std::chrono::milliseconds after, std::string message = {}) {
  Step s;
  s.write = Write::kWait;
  s.next = a;
  if (!message.empty()) s.next.message = std::move(message);
  s.requeue = after;
  return s;
}

Step Go(Write w, ActionRecord next, std::string event = {}, std::string eventMessage = {},
        bool warning = false) {
  Step s;
  s.write = w;
  s.next = std::move(next);
  s.event = std::move(event);
  s.eventMessage = std::move(eventMessage);
  s.warning = warning;
  s.requeue = std::chrono::milliseconds(200);
  return s;
}

std::string RangeName(const ActionRecord& a) {
  return a.range ? "range " + std::to_string(*a.range) : std::string("range ?");
}

bool MarkedByUs(const ActionRecord& a, const RangeView& r) {
  return (r.state == "migrating" || r.state == "shadow") && r.source == a.source &&
         r.target == a.target;
}

std::chrono::milliseconds Remaining(int64_t since, int64_t length, int64_t now) {
  int64_t left = since + length - now;
  return std::chrono::milliseconds(std::clamp<int64_t>(left, 1, 5) * 1000);
}

// Before cutover: the range must still be owned by the source.
std::optional<Step> OwnerGuard(const ActionRecord& a, const StepWorld& w) {
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, "Failed", w.now, RangeName(a) + " is not in the routing document"),
              "MoveFailed", a.id + ": " + RangeName(a) + " is not in the routing document", true);
  }
  if (w.range.owner == a.target) {
    return Go(Write::kNone,
              Enter(a, "Completed", w.now, RangeName(a) + " is already owned by " + a.target),
              "MoveCompleted", a.id + ": " + RangeName(a) + " already owned by " + a.target);
  }
  if (w.range.owner != a.source) {
    return Go(Write::kNone,
              Enter(a, "Failed", w.now,
                    RangeName(a) + " is now owned by " + w.range.owner + ", not " + a.source +
                        "; re-planning"),
              "MoveFailed", a.id + ": owner of " + RangeName(a) + " changed to " + w.range.owner,
              true);
  }
  return std::nullopt;
}

Step MoveStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  const int64_t now = w.now;
  const std::string& ph = a.phase;
  if (ph == "Pending" || ph == "Promoting" || ph == "Migrating" || ph == "Copying" ||
      ph == "Shadow") {
    if (auto g = OwnerGuard(a, w)) return *g;
  }
  if (ph == "Pending") {
    return Go(Write::kNone,
              Enter(a, "Promoting", now, "waiting for " + a.target + " to be active and ready"),
              "MoveStarted",
              a.id + ": moving " + RangeName(a) + " from " + a.source + " to " + a.target);
  }
  if (ph == "Promoting") {
    if (!w.target.exists) {
      return Go(Write::kNone, Enter(a, "Failed", now, "target pod " + a.target + " does not exist"),
                "MoveFailed", a.id + ": target pod " + a.target + " does not exist", true);
    }
    if (w.target.active && w.target.ready) {
      return Go(Write::kNone, Enter(a, "Migrating", now, "target " + a.target + " is active"));
    }
    if (now - a.phaseStartedAt > cfg.promotionTimeoutSeconds) {
      return Go(Write::kNone,
                Enter(a, "Failed", now,
                      "target " + a.target + " did not become active and ready within " +
                          std::to_string(cfg.promotionTimeoutSeconds) + "s"),
                "MoveFailed", a.id + ": target " + a.target + " never became active", true);
    }
    return Wait(a, std::chrono::milliseconds(1000),
                "waiting for " + a.target + " to be active and ready");
  }
  if (ph == "Migrating" || ph == "Copying") {
    if (now - a.phaseStartedAt > cfg.phaseTimeoutSeconds) {
      return Go(Write::kNone,
                Enter(a, "Reverting", now,
                      ph + " took longer than " + std::to_string(cfg.phaseTimeoutSeconds) + "s"),
                "MoveReverting", a.id + ": " + ph + " timed out", true);
    }
    if (!MarkedByUs(a, w.range)) {
      ActionRecord n = a;
      n.message = "routing marks " + RangeName(a) + " migrating";
      return Go(Write::kMarkMigrating, n);
    }
    if (!w.target.exists || !w.target.active) {
      return Go(Write::kNone,
                Enter(a, "Reverting", now, "target " + a.target + " is no longer active"),
                "MoveReverting", a.id + ": target " + a.target + " is no longer active", true);
    }
    if (ph == "Migrating") {
      if (w.hooks) {
        return Go(Write::kHookPrepare,
                  Enter(a, "Copying", now, "prepared " + a.target + "; copying"));
      }
      return Go(Write::kNone, Enter(a, cfg.shadow ? "Shadow" : "Cutover", now));
    }
    // Copying: the executor polls progress and calls copy while idle.
    return Go(Write::kHookCopy, Enter(a, cfg.shadow ? "Shadow" : "Cutover", now, "copy done"));
  }
  if (ph == "Shadow") {
    if (w.range.state != "shadow" || !MarkedByUs(a, w.range)) {
      ActionRecord n = a;
      n.message =
          "routing mirrors " + std::to_string(cfg.shadowFraction) + " of reads to " + a.target;
      return Go(Write::kMarkShadow, n);
    }
    if (now - a.phaseStartedAt >= cfg.shadowSeconds)
      return Go(Write::kNone, Enter(a, "Cutover", now));
    return Wait(a, Remaining(a.phaseStartedAt, cfg.shadowSeconds, now));
  }
  if (ph == "Cutover") {
    if (w.range.found && w.range.owner == a.target) {
      return Go(Write::kNone, Enter(a, "Verifying", now,
                                    "watching " + a.target + " for " +
                                        std::to_string(cfg.verificationSeconds) + "s"));
    }
    if (auto g = OwnerGuard(a, w)) return *g;
    if (!w.target.exists || !w.target.active) {
      return Go(Write::kNone,
                Enter(a, "Reverting", now, "target " + a.target + " is no longer active"),
                "MoveReverting", a.id + ": target " + a.target + " is no longer active", true);
    }
    if (w.hooks && a.message != "cutover hook called") {
      ActionRecord n = a;
      n.message = "cutover hook called";
      return Go(Write::kHookCutover, n);
    }
    return Go(
        Write::kCutover,
        Enter(a, "Verifying", now,
              "watching " + a.target + " for " + std::to_string(cfg.verificationSeconds) + "s"),
        "MoveCutover", a.id + ": " + RangeName(a) + " now owned by " + a.target);
  }
  if (ph == "Verifying") {
    if (!w.range.found || w.range.owner != a.target) {
      if (w.range.owner == a.source) {
        return Go(Write::kNone,
                  Enter(a, "Reverted", now, RangeName(a) + " is owned by the source again"),
                  "MoveReverted", a.id + ": " + RangeName(a) + " back on " + a.source, true);
      }
      return Go(Write::kNone,
                Enter(a, "Failed", now, RangeName(a) + " owner changed to " + w.range.owner),
                "MoveFailed", a.id + ": owner changed during verification", true);
    }
    std::string bad;
    if (w.targetUtilization && *w.targetUtilization > cfg.maxUtilization) {
      bad = "target utilization " +
            std::to_string(static_cast<int>(std::lround(*w.targetUtilization * 100))) +
            "% > maxUtilization " +
            std::to_string(static_cast<int>(std::lround(cfg.maxUtilization * 100))) + "%";
    } else if (w.errorRate && *w.errorRate > cfg.maxErrorRate) {
      bad = "target error rate " + std::to_string(*w.errorRate) + " > maxErrorRate " +
            std::to_string(cfg.maxErrorRate);
    } else if (w.latencyRatio && *w.latencyRatio > cfg.maxLatencyRatio) {
      bad = "latency ratio " + std::to_string(*w.latencyRatio) + " > maxLatencyRatio " +
            std::to_string(cfg.maxLatencyRatio);
    } else if (!w.target.exists || !w.target.ready) {
      bad = "target " + a.target + " is not ready";
    }
    if (!bad.empty()) {
      return Go(Write::kNone, Enter(a, "Reverting", now, "verification failed: " + bad),
                "MoveVerificationFailed", a.id + ": " + bad + "; reverting", true);
    }
    if (now - a.phaseStartedAt >= cfg.verificationSeconds) {
      return Go(
          w.hooks ? Write::kHookRelease : Write::kNone,
          Enter(a, "Completed", now, RangeName(a) + " moved to " + a.target + " and verified"),
          "MoveCompleted",
          a.id + ": " + RangeName(a) + " moved from " + a.source + " to " + a.target);
    }
    return Wait(a, Remaining(a.phaseStartedAt, cfg.verificationSeconds, now));
  }
  if (ph == "Reverting") {
    if (!w.range.found) {
      return Go(Write::kNone,
                Enter(a, "Failed", now, RangeName(a) + " is not in the routing document"));
    }
    bool ours = w.range.owner == a.target || (w.range.owner == a.source && MarkedByUs(a, w.range));
    if (w.range.owner == a.source && !ours) {
      std::string why = a.message.empty() ? std::string() : a.message + "; ";
      return Go(Write::kNone,
                Enter(a, "Reverted", now, why + RangeName(a) + " served by " + a.source + " again"),
                "MoveReverted", a.id + ": " + RangeName(a) + " routed back to " + a.source, true);
    }
    if (!ours) {
      return Go(Write::kNone,
                Enter(a, "Failed", now,
                      RangeName(a) + " is owned by " + w.range.owner + "; nothing to revert"));
    }
    if (w.range.owner == a.target && (!w.source.exists || !w.source.active)) {
      return Go(Write::kNone,
                Enter(a, "Failed", now,
                      "cannot revert: source " + a.source + " is no longer active; " +
                          RangeName(a) + " stays on " + a.target),
                "MoveFailed", a.id + ": cannot revert, source gone", true);
    }
    std::string why = a.message.empty() ? std::string() : a.message + "; ";
    return Go(Write::kRevert,
              Enter(a, "Reverted", now, why + RangeName(a) + " routed back to " + a.source),
              "MoveReverted", a.id + ": " + RangeName(a) + " routed back to " + a.source, true);
  }
  return Wait(a, std::chrono::milliseconds(5000));
}

Step PromoteStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  const int64_t now = w.now;
  if (a.phase == "Pending") {
    return Go(Write::kNone, Enter(a, "Promoting", now, "promoting " + a.target),
              "PromotionRequested", a.id + ": promoting warm pod " + a.target);
  }
  if (!w.target.exists) {
    return Go(Write::kNone, Enter(a, "Failed", now, "pod " + a.target + " does not exist"),
              "PromotionFailed", a.id + ": pod " + a.target + " does not exist", true);
  }
  if (w.target.active && w.target.ready) {
    return Go(Write::kNone, Enter(a, "Completed", now, a.target + " is active"), "Promoted",
              a.id + ": " + a.target + " is active");
  }
  if (now - a.phaseStartedAt > cfg.promotionTimeoutSeconds) {
    return Go(Write::kNone, Enter(a, "Failed", now, a.target + " was not promoted in time"),
              "PromotionFailed",
              a.id + ": " + a.target + " was not promoted within " +
                  std::to_string(cfg.promotionTimeoutSeconds) + "s",
              true);
  }
  if (!w.target.active && w.replicasSpec <= w.activePods) {
    if (w.activePods + 1 > w.maxReplicas) {
      return Go(
          Write::kNone,
          Enter(a, "Failed", now, "maxReplicas=" + std::to_string(w.maxReplicas) + " reached"),
          "PromotionFailed", a.id + ": maxReplicas=" + std::to_string(w.maxReplicas) + " reached",
          true);
    }
    Step s = Go(Write::kScaleReplicas, a);
    s.next.message = "asked the ShardSet for " + std::to_string(w.activePods + 1) + " replicas";
    s.replicas = w.activePods + 1;
    return s;
  }
  return Wait(a, std::chrono::milliseconds(1000),
              "waiting for the ShardSet controller to promote " + a.target);
}

Step ScaleInStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  const int64_t now = w.now;
  if (a.phase == "Pending") {
    if (w.replicasSpec < w.activePods) {  // the patch already happened
      return Go(Write::kNone, Enter(a, "Verifying", now, "draining"));
    }
    if (w.replicasSpec - 1 < w.minReplicas) {
      return Go(
          Write::kNone,
          Enter(a, "Failed", now, "minReplicas=" + std::to_string(w.minReplicas) + " reached"),
          "ScaleInFailed", a.id + ": minReplicas reached", true);
    }
    Step s =
        Go(Write::kScaleReplicas, Enter(a, "Verifying", now, "draining"), "ScaleInStarted",
           a.id + ": " + a.type + " to " + std::to_string(w.replicasSpec - 1) + " active pods");
    s.replicas = w.replicasSpec - 1;
    return s;
  }
  if (w.activePods <= w.replicasSpec) {
    return Go(Write::kNone,
              Enter(a, "Completed", now, "active pods: " + std::to_string(w.activePods)),
              "ScaledIn", a.id + ": " + std::to_string(w.activePods) + " active pods");
  }
  if (now - a.phaseStartedAt > cfg.phaseTimeoutSeconds) {
    return Go(Write::kNone, Enter(a, "Failed", now, "scale-in did not finish in time"),
              "ScaleInFailed", a.id + ": scale-in did not finish", true);
  }
  return Wait(a, std::chrono::milliseconds(1000), "waiting for the ShardSet controller to drain");
}

Step EchoStep(const ActionRecord& a, const StepWorld& w) {
  const int64_t now = w.now;
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, "Failed", now, RangeName(a) + " is not in the routing document"));
  }
  bool present =
      std::find(w.range.echoes.begin(), w.range.echoes.end(), a.target) != w.range.echoes.end();
  bool add = a.type == "AddEcho";
  if (present == add) {
    return Go(Write::kNone, Enter(a, "Completed", now, add ? "echo present" : "echo removed"),
              add ? "EchoAdded" : "EchoRemoved", a.id + ": " + RangeName(a) + " echo " + a.target);
  }
  if (add && (!w.target.exists || !w.target.ready || !w.target.active)) {
    if (now - (a.phaseStartedAt ? a.phaseStartedAt : now) > 600) {
      return Go(Write::kNone,
                Enter(a, "Failed", now, "echo pod " + a.target + " is not an active ready pod"));
    }
    return Wait(Enter(a, "Migrating", now), std::chrono::milliseconds(1000),
                "waiting for " + a.target);
  }
  return Go(add ? Write::kAddEcho : Write::kRemoveEcho,
            Enter(a, "Completed", now, add ? "echo added" : "echo removed"),
            add ? "EchoAdded" : "EchoRemoved", a.id + ": " + RangeName(a) + " echo " + a.target);
}

// Split and Merge only re-cut the key space on the same owner: one routing
// write, no data movement. Both are idempotent: a split whose upper half
// already exists (or a merge whose upper range is gone) is done.
Step SplitMergeStep(const ActionRecord& a, const StepWorld& w) {
  const int64_t now = w.now;
  const bool split = a.type == "Split";
  const std::string what =
      RangeName(a) + (split ? " split at " + std::to_string(a.splitAt.value_or(0))
                            : " merged with range " + std::to_string(a.other.value_or(0)));
  if (!a.range || !a.other || (split && !a.splitAt)) {
    return Go(Write::kNone, Enter(a, "Failed", now, a.type + " without its range ids"),
              "ActionFailed", a.id + ": " + a.type + " without its range ids", true);
  }
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, "Failed", now, RangeName(a) + " is not in the routing document"),
              "ActionFailed", a.id + ": " + RangeName(a) + " is not in the routing document", true);
  }
  if (split && w.other.found) {
    if (w.range.end + 1 == *a.splitAt && w.other.start == *a.splitAt) {
      return Go(Write::kNone, Enter(a, "Completed", now, what), "RangeSplit", a.id + ": " + what);
    }
    return Go(
        Write::kNone,
        Enter(a, "Failed", now, "range id " + std::to_string(*a.other) + " is already in use"),
        "ActionFailed", a.id + ": range id " + std::to_string(*a.other) + " is already in use",
        true);
  }
  if (!split && !w.other.found) {
    return Go(Write::kNone, Enter(a, "Completed", now, what), "RangesMerged", a.id + ": " + what);
  }
  // Not while a move, shadow or echo is in flight on the ranges involved.
  const bool busy = w.range.state != "stable" || (!split && w.other.state != "stable");
  if (busy) {
    if (a.phaseStartedAt > 0 && now - a.phaseStartedAt > 600) {
      return Go(
          Write::kNone,
          Enter(a, "Failed", now, "the ranges stayed busy (migrating or shadowed) for 10 minutes"),
          "ActionFailed", a.id + ": ranges busy", true);
    }
    ActionRecord n = a.phase == "Pending" ? Enter(a, "Migrating", now) : a;
    return Wait(n, std::chrono::milliseconds(2000), "waiting for the ranges to be stable");
  }
  if (split && !(*a.splitAt > w.range.start && *a.splitAt <= w.range.end)) {
    return Go(Write::kNone,
              Enter(a, "Failed", now,
                    "splitAt " + std::to_string(*a.splitAt) + " is outside " + RangeName(a)),
              "ActionFailed", a.id + ": splitAt outside the range", true);
  }
  if (!split && (w.range.end == UINT32_MAX || w.range.end + 1 != w.other.start ||
                 w.range.owner != w.other.owner)) {
    return Go(Write::kNone,
              Enter(a, "Failed", now,
                    "range " + std::to_string(*a.other) + " is not adjacent on the same owner"),
              "ActionFailed", a.id + ": ranges not adjacent on one owner", true);
  }
  return Go(split ? Write::kSplit : Write::kMerge, Enter(a, "Completed", now, what),
            split ? "RangeSplit" : "RangesMerged", a.id + ": " + what);
}

}  // namespace

const char* WriteName(Write w) {
  switch (w) {
    case Write::kNone:
      return "None";
    case Write::kWait:
      return "Wait";
    case Write::kScaleReplicas:
      return "ScaleReplicas";
    case Write::kMarkMigrating:
      return "MarkMigrating";
    case Write::kMarkShadow:
      return "MarkShadow";
    case Write::kCutover:
      return "Cutover";
    case Write::kRevert:
      return "Revert";
    case Write::kAddEcho:
      return "AddEcho";
    case Write::kRemoveEcho:
      return "RemoveEcho";
    case Write::kSplit:
      return "Split";
    case Write::kMerge:
      return "Merge";
    case Write::kHookPrepare:
      return "HookPrepare";
    case Write::kHookCopy:
      return "HookCopy";
    case Write::kHookCutover:
      return "HookCutover";
    case Write::kHookRelease:
      return "HookRelease";
  }
  return "?";
}

Step NextStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  if (a.terminal()) return Wait(a, std::chrono::milliseconds(0));
  if (a.type == "Move") return MoveStep(a, w, cfg);
  if (a.type == "Promote") return PromoteStep(a, w, cfg);
  if (a.type == "ScaleIn" || a.type == "Demote") return ScaleInStep(a, w, cfg);
  if (a.type == "AddEcho" || a.type == "RemoveEcho") return EchoStep(a, w);
  if (a.type == "Split" || a.type == "Merge") return SplitMergeStep(a, w);
  return Go(Write::kNone, Enter(a, "Failed", w.now, "unknown action type " + a.type),
            "ActionUnsupported", a.id + ": unknown action type " + a.type, true);
}

ActionRecord AfterFailure(const ActionRecord& a, const std::string& error, const StepConfig& cfg,
                          int64_t now) {
  ActionRecord n = a;
  n.attempts = a.attempts + 1;
  n.message = "attempt " + std::to_string(n.attempts) + " failed: " + error;
  if (n.attempts < cfg.maxAttempts) {
    n.retryAt = now + RetryBackoff(n.attempts).count() / 1000;
    return n;
  }
  n.retryAt = 0;
  static const std::set<std::string> kMayCarryMarks = {"Migrating", "Copying", "Shadow", "Cutover",
                                                       "Verifying"};
  if (a.type == "Move" && kMayCarryMarks.count(a.phase)) {
    return Enter(n, "Reverting", now,
                 "abandoned after " + std::to_string(n.attempts) + " attempts: " + error);
  }
  return Enter(n, "Failed", now,
               "abandoned after " + std::to_string(n.attempts) + " attempts: " + error);
}

std::chrono::milliseconds RetryBackoff(int attempts) {
  int64_t s = int64_t{1} << std::clamp(attempts - 1, 0, 5);
  return std::chrono::milliseconds(std::min<int64_t>(s, 30) * 1000);
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

RangeView ViewRange(const Json& doc, uint32_t id) {
  RangeView v;
  if (!doc.is_object() || !doc.contains("ranges") || !doc["ranges"].is_array()) return v;
  for (const auto& r : doc["ranges"]) {
    if (!r.is_object() || !r.contains("id") || !r["id"].is_number_unsigned() ||
        r["id"].get<uint64_t>() != id) {
      continue;
    }
    v.found = true;
    if (r.contains("start") && r["start"].is_number_unsigned())
      v.start = r["start"].get<uint32_t>();
    if (r.contains("end") && r["end"].is_number_unsigned()) v.end = r["end"].get<uint32_t>();
    auto s = [&](const char* k) {
      return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : "";
    };
    v.owner = s("owner");
    v.state = s("state").empty() ? "stable" : s("state");
    v.source = s("source");
    v.target = s("target");
    if (r.contains("echoes") && r["echoes"].is_array()) {
      for (const auto& e : r["echoes"]) {
        if (e.is_object() && e.contains("pod") && e["pod"].is_string())
          v.echoes.push_back(e["pod"].get<std::string>());
      }
    }
    return v;
  }
  return v;
}

Result<Json> ApplyRoutingEdit(const Json& doc, const RoutingEdit& edit) {
  if (!doc.is_object() || !doc.contains("ranges") || !doc["ranges"].is_array()) {
    return unexpected(Error{"routing.json ranges: missing"});
  }
  if (!doc.contains("epoch") || !doc["epoch"].is_number_integer()) {
    return unexpected(Error{"routing.json epoch: must be an integer"});
  }
  Json out = doc;
  Json* entry = nullptr;
  for (auto& r : out["ranges"]) {
    if (r.is_object() && r.contains("id") && r["id"].is_number_unsigned() &&
        r["id"].get<uint64_t>() == edit.range) {
      entry = &r;
    }
  }
  const std::string f = "routing.json ranges[id=" + std::to_string(edit.range) + "]";
  if (entry == nullptr) return unexpected(Error{f + ": no such range"});
  Json& e = *entry;
  std::string owner = e.value("owner", Json()).is_string() ? e["owner"].get<std::string>() : "";
  auto clear = [&]() {
    e["state"] = "stable";
    e["source"] = nullptr;
    e["target"] = nullptr;
    if (e.contains("targetEndpoint")) e["targetEndpoint"] = nullptr;
    e["shadowFraction"] = 0;
  };
  switch (edit.write) {
    case Write::kMarkMigrating:
    case Write::kMarkShadow: {
      if (owner != edit.source)
        return unexpected(Error{f + ".owner: is " + owner + ", not the source " + edit.source});
      bool shadow = edit.write == Write::kMarkShadow;
      e["state"] = shadow ? "shadow" : "migrating";
      e["source"] = edit.source;
      e["target"] = edit.target;
      if (!edit.targetEndpoint.empty()) e["targetEndpoint"] = edit.targetEndpoint;
      e["shadowFraction"] = shadow ? edit.shadowFraction : 0.0;
      break;
    }
    case Write::kCutover: {
      if (owner != edit.source)
        return unexpected(Error{f + ".owner: is " + owner + ", not the source " + edit.source});
      e["owner"] = edit.target;
      e["endpoint"] = edit.targetEndpoint;
      clear();
      if (e.contains("echoes") && e["echoes"].is_array()) {
        Json kept = Json::array();
        for (const auto& x : e["echoes"]) {
          if (!(x.is_object() && x.value("pod", Json()) == edit.target)) kept.push_back(x);
        }
        e["echoes"] = kept;
      }
      break;
    }
    case Write::kRevert: {
      if (owner != edit.source && owner != edit.target) {
        return unexpected(Error{f + ".owner: is " + owner + ", neither source nor target"});
      }
      e["owner"] = edit.source;
      e["endpoint"] = edit.sourceEndpoint;
      clear();
      break;
    }
    case Write::kAddEcho:
    case Write::kRemoveEcho: {
      if (!e.contains("echoes") || !e["echoes"].is_array()) e["echoes"] = Json::array();
      Json kept = Json::array();
      for (const auto& x : e["echoes"]) {
        if (!(x.is_object() && x.value("pod", Json()) == edit.target)) kept.push_back(x);
      }
      if (edit.write == Write::kAddEcho)
        kept.push_back({{"pod", edit.target}, {"endpoint", edit.targetEndpoint}});
      e["echoes"] = kept;
      break;
    }
    case Write::kSplit: {
      const uint32_t start = e.value("start", 0u), end = e.value("end", 0u);
      if (!(edit.splitAt > start && edit.splitAt <= end)) {
        return unexpected(Error{f + ".splitAt: " + std::to_string(edit.splitAt) + " is outside [" +
                                std::to_string(start) + ", " + std::to_string(end) + "]"});
      }
      if (e.value("state", std::string("stable")) != "stable")
        return unexpected(Error{f + ".state: not stable"});
      for (const auto& r : out["ranges"]) {
        if (r.is_object() && r.value("id", Json()) == edit.other) {
          return unexpected(Error{"routing.json ranges[id=" + std::to_string(edit.other) +
                                  "]: id already in use"});
        }
      }
      Json upper = e;
      upper["id"] = edit.other;
      upper["start"] = edit.splitAt;
      upper["echoes"] =
          Json::array();  // echo replicas hold the whole range; they are re-planned per half
      e["end"] = edit.splitAt - 1;
      out["ranges"].push_back(upper);
      break;
    }
    case Write::kMerge: {
      Json* b = nullptr;
      for (auto& r : out["ranges"]) {
        if (r.is_object() && r.value("id", Json()) == edit.other) b = &r;
      }
      const std::string g = "routing.json ranges[id=" + std::to_string(edit.other) + "]";
      if (b == nullptr) return unexpected(Error{g + ": no such range"});
      const uint32_t end = e.value("end", 0u);
      if (end == UINT32_MAX || b->value("start", 0u) != end + 1)
        return unexpected(Error{g + ".start: not adjacent"});
      if (b->value("owner", std::string()) != owner)
        return unexpected(Error{g + ".owner: not the same owner"});
      if (e.value("state", std::string("stable")) != "stable" ||
          b->value("state", std::string("stable")) != "stable") {
        return unexpected(Error{f + ".state: not stable"});
      }
      e["end"] = b->value("end", 0u);
      Json kept = Json::array();
      for (const auto& r : out["ranges"]) {
        if (!(r.is_object() && r.value("id", Json()) == edit.other)) kept.push_back(r);
      }
      out["ranges"] = kept;
      break;
    }
    default:
      return unexpected(
          Error{std::string("routing edit: ") + WriteName(edit.write) + " does not edit routing"});
  }
  if (edit.write == Write::kSplit || edit.write == Write::kMerge) {
    std::sort(out["ranges"].begin(), out["ranges"].end(), [](const Json& x, const Json& y) {
      return x.value("start", 0u) < y.value("start", 0u);
    });
  }
  out["epoch"] = doc["epoch"].get<int64_t>() + 1;
  return out;
}

}  // namespace shardcast::migrationpolicy
