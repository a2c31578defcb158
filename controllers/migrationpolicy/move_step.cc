// The Move state machine (pure). Hook steps record their intent in status
// before the call (a.hook) and are idempotent by action id; `Releasing`
// only completes; an abandoned move before cutover aborts on the target, a
// failed verification after cutover runs the reverse move (C5).
#include <algorithm>
#include <cmath>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/migrationpolicy/step_util.h"

namespace shardcast::migrationpolicy {
namespace {

using namespace step;
using ms = std::chrono::milliseconds;

std::string Pct(double u) { return std::to_string(static_cast<int>(std::lround(u * 100))) + "%"; }

// Before cutover: the range must still be owned by the source.
std::optional<Step> OwnerGuard(const ActionRecord& a, const StepWorld& w) {
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now, RangeName(a) + " is not in the routing document"),
              "MoveFailed", a.id + ": " + RangeName(a) + " is not in the routing document", true);
  }
  if (w.range.owner == a.target) {
    return Go(Write::kNone,
              Enter(a, Phase::kCompleted, w.now, RangeName(a) + " is already owned by " + a.target),
              "MoveCompleted", a.id + ": " + RangeName(a) + " already owned by " + a.target);
  }
  if (w.range.owner != a.source) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now,
                    RangeName(a) + " is now owned by " + w.range.owner + ", not " + a.source +
                        "; re-planning"),
              "MoveFailed", a.id + ": owner of " + RangeName(a) + " changed to " + w.range.owner,
              true);
  }
  return std::nullopt;
}

// The move is given up before its cutover hook: Aborting, which calls
// `abort` on the target when a hook may have touched it, then clears marks.
Step Abandon(const ActionRecord& a, const StepWorld& w, const std::string& why) {
  ActionRecord n = Enter(a, Phase::kAborting, w.now, why);
  n.hook =
      (w.hooks && a.hook.step != HookStep::kNone) ? HookRecord{HookStep::kAbort} : HookRecord{};
  n.router_baseline.reset();
  return Go(Write::kNone, n, "MoveAborting", a.id + ": " + why + "; aborting", true);
}

Step PromotingStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  if (!w.target.exists) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now, "target pod " + a.target + " does not exist"),
              "MoveFailed", a.id + ": target pod " + a.target + " does not exist", true);
  }
  if (w.target.active && w.target.ready) {
    return Go(Write::kNone,
              Enter(a, Phase::kMigrating, w.now, "target " + a.target + " is active"));
  }
  if (w.now - a.phase_started_at > cfg.promotion_timeout_seconds) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now,
                    "target " + a.target + " did not become active and ready within " +
                        std::to_string(cfg.promotion_timeout_seconds) + "s"),
              "MoveFailed", a.id + ": target " + a.target + " never became active", true);
  }
  return Wait(a, ms(1000), "waiting for " + a.target + " to be active and ready");
}

// Migrating and Copying: marks, prepare (intent, call), copy (intent, call).
Step MarkedPhaseStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  const std::string ph = PhaseName(a.phase);
  if (w.now - a.phase_started_at > cfg.phase_timeout_seconds) {
    return Abandon(a, w,
                   ph + " took longer than " + std::to_string(cfg.phase_timeout_seconds) + "s");
  }
  if (!MarkedByUs(a, w.range)) {
    ActionRecord n = a;
    n.message = "routing marks " + RangeName(a) + " migrating";
    return Go(Write::kMarkMigrating, n);
  }
  if (!w.target.exists || !w.target.active) {
    return Abandon(a, w, "target " + a.target + " is no longer active");
  }
  const Phase after = cfg.shadow ? Phase::kShadow : Phase::kCutover;
  if (!w.hooks) return Go(Write::kNone, Enter(a, after, w.now));
  if (a.phase == Phase::kMigrating) {
    if (!a.hook.Is(HookStep::kPrepare, HookState::kIntent)) {
      return Record(WithHook(a, HookStep::kPrepare, HookState::kIntent),
                    "calling prepare on " + a.target);
    }
    return Go(Write::kHookPrepare,
              WithHook(Enter(a, Phase::kCopying, w.now, "prepared " + a.target + "; copying"),
                       HookStep::kCopy, HookState::kIntent));
  }
  if (!a.hook.Is(HookStep::kCopy, HookState::kIntent)) {
    return Record(WithHook(a, HookStep::kCopy, HookState::kIntent), "calling copy on " + a.target);
  }
  return Go(Write::kHookCopy,
            WithHook(Enter(a, after, w.now, "copy done"), HookStep::kCopy, HookState::kDone));
}

// Later counters below the baseline: a router restarted; start again.
bool CountersWentDown(const RouterCounters& base, const RouterCounters& now) {
  return now.requests < base.requests || now.compared < base.compared || now.errors < base.errors ||
         now.mismatches < base.mismatches;
}

// The shadow verdict per C2 from the deltas since the baseline ("" = pass).
std::string JudgeShadow(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  if (!a.router_baseline || !w.router_now) {
    return "no router statistics for " + RangeName(a) + " during the shadow window (fail closed)";
  }
  const RouterCounters& b = *a.router_baseline;
  const RouterCounters& n = *w.router_now;
  const double compared = n.compared - b.compared;
  if (compared <= 0)
    return "no mirrored reads were compared during the shadow window (fail closed)";
  const double rate = (n.mismatches - b.mismatches) / compared;
  if (rate > cfg.max_error_rate) {
    return "shadow mismatch rate " + std::to_string(rate) + " > maxErrorRate " +
           std::to_string(cfg.max_error_rate);
  }
  const double owner = (n.owner_seconds - b.owner_seconds) / compared;
  const double target = (n.target_seconds - b.target_seconds) / compared;
  if (owner > 0 && target / owner > cfg.max_latency_ratio) {
    return "shadow latency ratio " + std::to_string(target / owner) + " > maxLatencyRatio " +
           std::to_string(cfg.max_latency_ratio);
  }
  return "";
}

// Records (or restarts) the router baseline; nullopt when it is current.
std::optional<Step> Baseline(const ActionRecord& a, const StepWorld& w) {
  if (!w.router_telemetry || !w.router_now) return std::nullopt;
  if (a.router_baseline && !CountersWentDown(*a.router_baseline, *w.router_now))
    return std::nullopt;
  ActionRecord n = a;
  n.router_baseline = *w.router_now;
  return Record(n, a.router_baseline ? "router counters went down (restart); new baseline"
                                     : "recorded the router baseline of " + RangeName(a));
}

Step ShadowStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  if (w.range.state != "shadow" || !MarkedByUs(a, w.range)) {
    ActionRecord n = a;
    n.message =
        "routing mirrors " + std::to_string(cfg.shadow_fraction) + " of reads to " + a.target;
    return Go(Write::kMarkShadow, n);
  }
  if (auto b = Baseline(a, w)) return *b;
  if (w.now - a.phase_started_at < cfg.shadow_seconds) {
    return Wait(a, Remaining(a.phase_started_at, cfg.shadow_seconds, w.now));
  }
  if (w.router_telemetry) {
    std::string bad = JudgeShadow(a, w, cfg);
    if (!bad.empty()) return Abandon(a, w, "shadow verification failed: " + bad);
  }
  ActionRecord n = Enter(a, Phase::kCutover, w.now);
  n.router_baseline.reset();
  return Go(Write::kNone, n);
}

Step CutoverStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  const std::string watching =
      "watching " + a.target + " for " + std::to_string(cfg.verification_seconds) + "s";
  if (w.range.found && w.range.owner == a.target) {
    return Go(Write::kNone, Enter(a, Phase::kVerifying, w.now, watching));
  }
  if (auto g = OwnerGuard(a, w)) return *g;
  const bool called = a.hook.step == HookStep::kCutover;  // intent or done: no way back but revert
  if (!called && (!w.target.exists || !w.target.active)) {
    return Abandon(a, w, "target " + a.target + " is no longer active");
  }
  if (w.hooks && !a.hook.Is(HookStep::kCutover, HookState::kDone)) {
    if (!a.hook.Is(HookStep::kCutover, HookState::kIntent)) {
      return Record(WithHook(a, HookStep::kCutover, HookState::kIntent),
                    "calling cutover on " + a.target);
    }
    ActionRecord n = WithHook(a, HookStep::kCutover, HookState::kDone);
    n.message = "cutover done on " + a.target + "; publishing routing";
    return Go(Write::kHookCutover, n);
  }
  return Go(Write::kCutover, Enter(a, Phase::kVerifying, w.now, watching), "MoveCutover",
            a.id + ": " + RangeName(a) + " now owned by " + a.target);
}

// After cutover: the reverse move when hooks carry data, else a routing flip.
Step StartRevert(const ActionRecord& a, const StepWorld& w, const std::string& why) {
  ActionRecord n = Enter(a, Phase::kReverting, w.now, "verification failed: " + why);
  n.hook = w.hooks ? HookRecord{HookStep::kPrepare, HookState::kIntent, true} : HookRecord{};
  n.router_baseline.reset();
  return Go(Write::kNone, n, "MoveVerificationFailed", a.id + ": " + why + "; reverting", true);
}

// "" when healthy so far; `evidence` tells whether any sample judged it.
// A target over maxUtilization fails the move only when it does worse than
// the source: a source at least as hot (a load rising everywhere) would take
// the range back hotter still, so the revert would only move the overload
// and the planner's next step (a promotion) is the remedy.
std::string JudgeVerifying(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg,
                           bool* evidence) {
  if (!w.target.exists || !w.target.ready) return "target " + a.target + " is not ready";
  if (w.target_utilization) {
    *evidence = true;
    const double t = *w.target_utilization;
    if (t > cfg.max_utilization && !(w.source_utilization && *w.source_utilization >= t)) {
      return "target utilization " + Pct(t) + " > maxUtilization " + Pct(cfg.max_utilization) +
             (w.source_utilization ? " and the source's " + Pct(*w.source_utilization) : "");
    }
  }
  if (a.router_baseline && w.router_now) {
    const double req = w.router_now->requests - a.router_baseline->requests;
    const double err = w.router_now->errors - a.router_baseline->errors;
    if (req > 0) {
      *evidence = true;
      if (err / req > cfg.max_error_rate) {
        return "router error rate " + std::to_string(err / req) + " > maxErrorRate " +
               std::to_string(cfg.max_error_rate);
      }
    }
  }
  return "";
}

// With a router baseline, the verdict waits for router statistics observed
// at or after the window's end: counters scraped before it say nothing about
// its last part (a target that stopped answering then would pass). They come
// with the forecast controller's next sample; when none come within
// max(30 s, the window) (the routers saw no request of any moving range, so
// nothing was written), the verdict is taken on what there is.
std::optional<Step> AwaitRouterStatsAfterWindow(const ActionRecord& a, const StepWorld& w,
                                                const StepConfig& cfg) {
  if (!w.router_telemetry || !a.router_baseline) return std::nullopt;
  const int64_t window_end = a.phase_started_at + cfg.verification_seconds;
  if (w.router_now && w.router_now->observed_at >= window_end) return std::nullopt;
  if (w.now - window_end >= std::max<int64_t>(30, cfg.verification_seconds)) return std::nullopt;
  return Wait(a, ms(1000),
              "waiting for router statistics of " + RangeName(a) +
                  " observed after the verification window");
}

Step VerifyingStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  if (w.range.found && w.range.owner == a.source) {
    return Go(Write::kNone,
              Enter(a, Phase::kReverted, w.now, RangeName(a) + " is owned by the source again"),
              "MoveReverted", a.id + ": " + RangeName(a) + " back on " + a.source, true);
  }
  if (!w.range.found || w.range.owner != a.target) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now,
                    RangeName(a) + " owner changed to " + w.range.owner + " during verification"),
              "MoveFailed", a.id + ": owner changed during verification", true);
  }
  if (auto b = Baseline(a, w)) return *b;
  bool evidence = false;
  std::string bad = JudgeVerifying(a, w, cfg, &evidence);
  if (!bad.empty()) return StartRevert(a, w, bad);
  if (w.now - a.phase_started_at < cfg.verification_seconds) {
    return Wait(a, Remaining(a.phase_started_at, cfg.verification_seconds, w.now));
  }
  if (auto s = AwaitRouterStatsAfterWindow(a, w, cfg)) return *s;
  if (!evidence) {
    // A new target has no sample until metrics-server's next scrape: wait
    // for one (bounded), then fail closed.
    if (w.now - a.phase_started_at < cfg.verification_seconds + cfg.evidence_timeout_seconds) {
      return Wait(a, ms(1000),
                  "waiting for a first utilization sample or router statistics of " + a.target);
    }
    return StartRevert(a, w,
                       "no utilization sample and no router statistics for " + a.target +
                           " within " +
                           std::to_string(cfg.verification_seconds + cfg.evidence_timeout_seconds) +
                           "s (fail closed)");
  }
  const std::string done = RangeName(a) + " moved to " + a.target + " and verified";
  if (!w.hooks) {
    return Go(Write::kNone, Enter(a, Phase::kCompleted, w.now, done), "MoveCompleted",
              a.id + ": " + RangeName(a) + " moved from " + a.source + " to " + a.target);
  }
  ActionRecord n = WithHook(Enter(a, Phase::kReleasing, w.now, done + "; releasing " + a.source),
                            HookStep::kRelease, HookState::kIntent);
  n.router_baseline.reset();
  return Go(Write::kNone, n);
}

Step ReleasingStep(const ActionRecord& a, const StepWorld& w) {
  const std::string done = RangeName(a) + " moved to " + a.target + ", verified and released";
  Step s = Go(
      a.hook.Is(HookStep::kRelease, HookState::kIntent) ? Write::kHookRelease : Write::kNone,
      WithHook(Enter(a, Phase::kCompleted, w.now, done), HookStep::kRelease, HookState::kDone),
      "MoveCompleted", a.id + ": " + RangeName(a) + " moved from " + a.source + " to " + a.target);
  return s;
}

Step AbortingStep(const ActionRecord& a, const StepWorld& w) {
  if (a.hook.Is(HookStep::kAbort, HookState::kIntent)) {
    ActionRecord n = WithHook(a, HookStep::kAbort, HookState::kDone);
    n.message = a.message + "; abort done on " + a.target;
    return Go(Write::kHookAbort, n);
  }
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now, RangeName(a) + " is not in the routing document"));
  }
  const std::string why = a.message.empty() ? std::string() : a.message + "; ";
  if (w.range.owner != a.source) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now,
                    why + RangeName(a) + " is owned by " + w.range.owner + "; nothing to abort"),
              "MoveFailed", a.id + ": owner changed during abort", true);
  }
  const std::string back = why + RangeName(a) + " served by " + a.source + " again";
  if (MarkedByUs(a, w.range)) {
    return Go(Write::kRevert, Enter(a, Phase::kReverted, w.now, back), "MoveReverted",
              a.id + ": " + RangeName(a) + " stays on " + a.source, true);
  }
  return Go(Write::kNone, Enter(a, Phase::kReverted, w.now, back), "MoveReverted",
            a.id + ": " + RangeName(a) + " stays on " + a.source, true);
}

// The reverse move of C5: prepare, copy, cutover with source and target
// swapped (hook action id "<id>-revert"), routing back, release on the old target.
Step ReverseStep(const ActionRecord& a, const StepWorld& w) {
  const HookRecord& h = a.hook;
  const std::string why = a.message;
  auto next = [&](HookStep s, HookState st, const std::string& m) {
    ActionRecord n = WithHook(a, s, st, true);
    n.message = m;
    return n;
  };
  if (h.step == HookStep::kPrepare || h.step == HookStep::kCopy) {
    if (!w.source.exists || !w.source.active) {
      return Go(Write::kNone,
                Enter(a, Phase::kFailed, w.now,
                      "cannot revert: source " + a.source + " is no longer active; " +
                          RangeName(a) + " stays on " + a.target),
                "MoveFailed", a.id + ": cannot revert, source gone", true);
    }
    if (h.step == HookStep::kPrepare) {
      return Go(Write::kHookPrepare, next(HookStep::kCopy, HookState::kIntent, why));
    }
    return Go(Write::kHookCopy, next(HookStep::kCutover, HookState::kIntent, why));
  }
  if (h.Is(HookStep::kCutover, HookState::kIntent, true)) {
    return Go(Write::kHookCutover, next(HookStep::kCutover, HookState::kDone, why));
  }
  if (h.Is(HookStep::kCutover, HookState::kDone, true)) {
    ActionRecord n = next(HookStep::kRelease, HookState::kIntent, why);
    const bool back = w.range.found && w.range.owner == a.source && w.range.state == "stable";
    return Go(back ? Write::kNone : Write::kRevert, n);
  }
  const std::string done = why + "; " + RangeName(a) + " moved back to " + a.source;
  return Go(
      h.Is(HookStep::kRelease, HookState::kIntent, true) ? Write::kHookRelease : Write::kNone,
      WithHook(Enter(a, Phase::kReverted, w.now, done), HookStep::kRelease, HookState::kDone, true),
      "MoveReverted", a.id + ": " + RangeName(a) + " moved back to " + a.source, true);
}

// Without hooks: route the range back to the source (nothing to carry).
Step RoutingRevertStep(const ActionRecord& a, const StepWorld& w) {
  if (!w.range.found) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now, RangeName(a) + " is not in the routing document"));
  }
  const std::string why = a.message.empty() ? std::string() : a.message + "; ";
  if (w.range.owner == a.source && w.range.state == "stable") {
    return Go(Write::kNone,
              Enter(a, Phase::kReverted, w.now, why + RangeName(a) + " served by " + a.source),
              "MoveReverted", a.id + ": " + RangeName(a) + " routed back to " + a.source, true);
  }
  if (w.range.owner != a.target && w.range.owner != a.source) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now,
                    RangeName(a) + " is owned by " + w.range.owner + "; nothing to revert"));
  }
  if (!w.source.exists || !w.source.active) {
    return Go(Write::kNone,
              Enter(a, Phase::kFailed, w.now,
                    "cannot revert: source " + a.source + " is no longer active; " + RangeName(a) +
                        " stays on " + a.target),
              "MoveFailed", a.id + ": cannot revert, source gone", true);
  }
  return Go(Write::kRevert,
            Enter(a, Phase::kReverted, w.now, why + RangeName(a) + " routed back to " + a.source),
            "MoveReverted", a.id + ": " + RangeName(a) + " routed back to " + a.source, true);
}

}  // namespace

Step MoveStep(const ActionRecord& a, const StepWorld& w, const StepConfig& cfg) {
  switch (a.phase) {
    case Phase::kPending:
      if (auto g = OwnerGuard(a, w)) return *g;
      return Go(Write::kNone,
                Enter(a, Phase::kPromoting, w.now, "waiting for " + a.target + " to be active"),
                "MoveStarted",
                a.id + ": moving " + RangeName(a) + " from " + a.source + " to " + a.target);
    case Phase::kPromoting:
      if (auto g = OwnerGuard(a, w)) return *g;
      return PromotingStep(a, w, cfg);
    case Phase::kMigrating:
    case Phase::kCopying:
    case Phase::kShadow:
      if (auto g = OwnerGuard(a, w)) return *g;
      return a.phase == Phase::kShadow ? ShadowStep(a, w, cfg) : MarkedPhaseStep(a, w, cfg);
    case Phase::kCutover:
      return CutoverStep(a, w, cfg);
    case Phase::kVerifying:
      return VerifyingStep(a, w, cfg);
    case Phase::kReleasing:
      return ReleasingStep(a, w);
    case Phase::kAborting:
      return AbortingStep(a, w);
    case Phase::kReverting:
      return a.hook.reverse ? ReverseStep(a, w) : RoutingRevertStep(a, w);
    default:
      return Wait(a, ms(5000));
  }
}

}  // namespace shardcast::migrationpolicy
