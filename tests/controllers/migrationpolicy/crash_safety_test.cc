// Crash safety of the executor's state machine (issue 12 item 3): hook
// intents in status, Releasing only completes, abort before cutover, the
// reverse move after cutover, verification that fails closed, and the
// status boundary of the enums.
#include <gtest/gtest.h>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "tests/controllers/migrationpolicy/step_fixture.h"

namespace shardcast::migrationpolicy {
namespace {

ActionRecord MoveIn(Phase phase, HookRecord hook = {}) {
  ActionRecord a = MoveRecord(phase);
  a.hook = hook;
  return a;
}

StepWorld HookWorld(const std::string& owner, const std::string& state = "stable") {
  return MoveWorld(owner, state, /*hooks=*/true);
}

// The record as the next round reads it back from status.
ActionRecord RoundTrip(const ActionRecord& a) {
  auto r = ActionFromJson(ActionToJson(a), "status.actions[0]");
  EXPECT_TRUE(r) << r.error().message;
  return *r;
}

TEST(HookIntent, CutoverIntentIsInStatusBeforeTheCallAndSurvivesAFailure) {
  StepConfig cfg;
  StepWorld w = HookWorld("kv-0", "migrating");
  ActionRecord a = MoveIn(Phase::kCutover, {HookStep::kCopy, HookState::kDone});
  Step s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kNone);  // only the intent goes to status
  EXPECT_TRUE(s.next.hook.Is(HookStep::kCutover, HookState::kIntent));
  a = RoundTrip(s.next);
  s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kHookCutover);
  EXPECT_TRUE(s.next.hook.Is(HookStep::kCutover, HookState::kDone));
  // The call fails (or the operator crashes after it): the message is
  // overwritten, the intent is not, and the next round calls it again.
  ActionRecord failed = RoundTrip(AfterFailure(a, "connection reset", cfg, 1011));
  EXPECT_TRUE(failed.hook.Is(HookStep::kCutover, HookState::kIntent));
  failed.retry_at = 0;
  EXPECT_EQ(NextStep(failed, w, cfg).write, Write::kHookCutover);
  // Once done, the routing cutover follows whatever the message says.
  ActionRecord done = RoundTrip(s.next);
  done.message = "attempt 1 failed: ConfigMap conflict";
  s = NextStep(done, w, cfg);
  EXPECT_EQ(s.write, Write::kCutover);
  EXPECT_STREQ(PhaseName(s.next.phase), "Verifying");
}

TEST(HookIntent, AfterTheCutoverIntentTheMoveNeverAborts) {
  StepConfig cfg;
  cfg.max_attempts = 2;
  ActionRecord a = MoveIn(Phase::kCutover, {HookStep::kCutover, HookState::kIntent});
  for (int i = 0; i < 5; ++i) a = AfterFailure(a, "target down", cfg, 1010 + i);
  EXPECT_EQ(a.phase, Phase::kCutover);  // keeps retrying: the data is on the target
  EXPECT_TRUE(a.hook.Is(HookStep::kCutover, HookState::kIntent));
  EXPECT_GT(a.retry_at, 1010);
  // Without the intent, the same failures abort.
  ActionRecord b = MoveIn(Phase::kCutover, {HookStep::kCopy, HookState::kDone});
  for (int i = 0; i < 2; ++i) b = AfterFailure(b, "x", cfg, 1010);
  EXPECT_EQ(b.phase, Phase::kAborting);
  EXPECT_TRUE(b.hook.Is(HookStep::kAbort, HookState::kIntent));
}

TEST(HookIntent, PrepareAndCopyRecordIntentFirst) {
  StepConfig cfg;
  StepWorld w = HookWorld("kv-0", "migrating");
  Step s = NextStep(MoveIn(Phase::kMigrating), w, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_TRUE(s.next.hook.Is(HookStep::kPrepare, HookState::kIntent));
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kHookPrepare);
  EXPECT_EQ(s.next.phase, Phase::kCopying);
  EXPECT_TRUE(s.next.hook.Is(HookStep::kCopy, HookState::kIntent));
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kHookCopy);
  EXPECT_EQ(s.next.phase, Phase::kCutover);
}

TEST(Releasing, VerifiedMoveRecordsReleaseIntentThenOnlyCompletes) {
  StepConfig cfg;
  cfg.verification_seconds = 120;
  StepWorld w = HookWorld("kv-3");
  w.target_utilization = 0.5;
  w.now = 1120;
  Step s = NextStep(MoveIn(Phase::kVerifying, {HookStep::kCutover, HookState::kDone}), w, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_EQ(s.next.phase, Phase::kReleasing);
  EXPECT_TRUE(s.next.hook.Is(HookStep::kRelease, HookState::kIntent));
  ActionRecord rel = RoundTrip(s.next);
  // A crash before the release answer was recorded: the next round sees
  // Releasing, not Verifying; bad metrics now change nothing.
  StepWorld bad = w;
  bad.target_utilization = 0.99;
  bad.target.ready = false;
  s = NextStep(rel, bad, cfg);
  EXPECT_EQ(s.write, Write::kHookRelease);
  EXPECT_EQ(s.next.phase, Phase::kCompleted);
  // Failures never revert: after maxAttempts it completes, saying so.
  cfg.max_attempts = 2;
  ActionRecord f = AfterFailure(AfterFailure(rel, "x", cfg, 1121), "x", cfg, 1122);
  EXPECT_EQ(f.phase, Phase::kCompleted);
  EXPECT_NE(f.message.find("not confirmed"), std::string::npos) << f.message;
}

TEST(Abort, AbandonedCopyAbortsOnTheTargetBeforeClearingMarks) {
  StepConfig cfg;
  cfg.phase_timeout_seconds = 5;
  StepWorld w = HookWorld("kv-0", "migrating");
  Step s = NextStep(MoveIn(Phase::kCopying, {HookStep::kCopy, HookState::kIntent}), w, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_EQ(s.next.phase, Phase::kAborting);
  EXPECT_TRUE(s.next.hook.Is(HookStep::kAbort, HookState::kIntent));
  ActionRecord a = RoundTrip(s.next);
  s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kHookAbort);  // marks stay until abort is done
  EXPECT_TRUE(s.next.hook.Is(HookStep::kAbort, HookState::kDone));
  s = NextStep(RoundTrip(s.next), w, cfg);
  EXPECT_EQ(s.write, Write::kRevert);  // clears the marks; owner stays the source
  EXPECT_EQ(s.next.phase, Phase::kReverted);
  // Aborting never gives up (the keys must come back first).
  cfg.max_attempts = 1;
  ActionRecord f = AfterFailure(a, "agent down", cfg, 1011);
  EXPECT_EQ(f.phase, Phase::kAborting);
  // Target gone before any hook: nothing to abort, marks cleared at once.
  StepWorld gone = HookWorld("kv-0", "migrating");
  gone.target = {};
  s = NextStep(MoveIn(Phase::kMigrating), gone, StepConfig{});
  EXPECT_EQ(s.next.phase, Phase::kAborting);
  EXPECT_EQ(s.next.hook.step, HookStep::kNone);
  EXPECT_EQ(NextStep(s.next, gone, cfg).write, Write::kRevert);
}

TEST(Revert, FailedVerificationRunsTheReverseMoveThroughTheHooks) {
  StepConfig cfg;
  StepWorld w = HookWorld("kv-3");
  w.target_utilization = 0.95;
  Step s = NextStep(MoveIn(Phase::kVerifying, {HookStep::kCutover, HookState::kDone}), w, cfg);
  EXPECT_EQ(s.next.phase, Phase::kReverting);
  EXPECT_TRUE(s.next.hook.Is(HookStep::kPrepare, HookState::kIntent, true));
  EXPECT_EQ(s.next.HookActionId(), "plan-1-0-revert");
  std::vector<Write> writes;
  ActionRecord a = RoundTrip(s.next);
  for (int i = 0; i < 6 && !a.terminal(); ++i) {
    s = NextStep(a, w, cfg);
    writes.push_back(s.write);
    if (s.write == Write::kRevert) w.range.owner = "kv-0";
    a = RoundTrip(s.next);
  }
  EXPECT_EQ(writes, (std::vector<Write>{Write::kHookPrepare, Write::kHookCopy, Write::kHookCutover,
                                        Write::kRevert, Write::kHookRelease}));
  EXPECT_EQ(a.phase, Phase::kReverted);
  // Without hooks it is a routing flip, as before.
  StepWorld plain = HookWorld("kv-3");
  plain.hooks = false;
  plain.target_utilization = 0.95;
  s = NextStep(MoveIn(Phase::kVerifying), plain, cfg);
  EXPECT_EQ(s.next.hook.step, HookStep::kNone);
  EXPECT_EQ(NextStep(s.next, plain, cfg).write, Write::kRevert);
}

TEST(Verification, FailsClosedWithoutAnySample) {
  StepConfig cfg;
  cfg.verification_seconds = 120;
  StepWorld w = HookWorld("kv-3");
  w.hooks = false;
  cfg.evidence_timeout_seconds = 60;
  w.now = 1120;  // the window is over; no utilization, no router stats
  Step s = NextStep(MoveIn(Phase::kVerifying), w, cfg);
  // A new target's first sample may still come (metrics-server's next scrape).
  EXPECT_EQ(s.write, Write::kWait);
  EXPECT_EQ(s.next.phase, Phase::kVerifying);
  EXPECT_NE(s.next.message.find("waiting for a first utilization sample"), std::string::npos)
      << s.next.message;
  w.target_utilization = 0.3;  // it came: verified
  EXPECT_EQ(NextStep(MoveIn(Phase::kVerifying), w, cfg).next.phase, Phase::kCompleted);
  w.target_utilization.reset();
  w.now = 1180;  // none within window + evidence timeout: fail closed
  s = NextStep(MoveIn(Phase::kVerifying), w, cfg);
  EXPECT_EQ(s.next.phase, Phase::kReverting);
  EXPECT_NE(s.next.message.find("within 180s (fail closed)"), std::string::npos) << s.next.message;
  w.now = 1120;
  // Router counters alone are evidence: baseline first, then the delta.
  w.router_telemetry = true;
  w.router_now = RouterCounters{0, 100, 0};
  s = NextStep(MoveIn(Phase::kVerifying), w, cfg);
  ASSERT_TRUE(s.next.router_baseline);
  w.router_now = RouterCounters{1120, 300, 1};  // observed at the window's end
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.next.phase, Phase::kCompleted) << s.next.message;
  w.router_now = RouterCounters{0, 300, 50};  // 25% errors
  ActionRecord based = MoveIn(Phase::kVerifying);
  based.router_baseline = RouterCounters{0, 100, 0};
  EXPECT_EQ(NextStep(based, w, cfg).next.phase, Phase::kReverting);
}

TEST(Verification, WaitsForRouterStatsObservedAfterTheWindow) {
  StepConfig cfg;
  cfg.verification_seconds = 120;  // phaseStartedAt 1000: the window ends at 1120
  StepWorld w = HookWorld("kv-3");
  w.hooks = false;
  w.target_utilization = 0.2;
  w.router_telemetry = true;
  ActionRecord based = MoveIn(Phase::kVerifying);
  based.router_baseline = RouterCounters{1001, 100, 0};
  // Scraped before the target stopped answering: no errors yet.
  w.router_now = RouterCounters{1110, 200, 0};
  w.now = 1121;
  Step s = NextStep(based, w, cfg);
  EXPECT_EQ(s.write, Write::kWait);
  EXPECT_EQ(s.next.phase, Phase::kVerifying);
  EXPECT_NE(s.next.message.find("observed after the verification window"), std::string::npos)
      << s.next.message;
  // The next scrape shows the errors of the window's end: revert.
  w.router_now = RouterCounters{1122, 210, 10};
  w.now = 1123;
  EXPECT_EQ(NextStep(based, w, cfg).next.phase, Phase::kReverting);
  // A clean scrape after the window: verified.
  w.router_now = RouterCounters{1122, 300, 0};
  EXPECT_EQ(NextStep(based, w, cfg).next.phase, Phase::kCompleted);
  // No scrape after the window for max(30 s, window) (no request to write
  // about): judged on what there is.
  w.router_now = RouterCounters{1110, 200, 0};
  w.now = 1240;
  EXPECT_EQ(NextStep(based, w, cfg).next.phase, Phase::kCompleted);
}

TEST(Verification, ShadowIsJudgedFromRouterStatsAndFailsClosed) {
  StepConfig cfg;
  cfg.shadow = true;
  cfg.shadow_seconds = 60;
  StepWorld w = HookWorld("kv-0", "shadow");
  w.router_telemetry = true;
  RouterCounters base;
  base.compared = 10;
  base.owner_seconds = 1;
  base.target_seconds = 1;
  w.router_now = base;
  ActionRecord a = MoveIn(Phase::kShadow, {HookStep::kCopy, HookState::kDone});
  Step s = NextStep(a, w, cfg);
  ASSERT_TRUE(s.next.router_baseline);  // recorded in status
  EXPECT_DOUBLE_EQ(RoundTrip(s.next).router_baseline->compared, 10);
  a = RoundTrip(s.next);
  w.now = 1060;
  s = NextStep(a, w, cfg);  // nothing compared since the baseline
  EXPECT_EQ(s.next.phase, Phase::kAborting) << s.next.message;
  EXPECT_NE(s.next.message.find("fail closed"), std::string::npos);
  RouterCounters good = base;
  good.compared = 110;
  good.mismatches = 0;
  good.owner_seconds = 2;
  good.target_seconds = 2.2;
  w.router_now = good;
  EXPECT_EQ(NextStep(a, w, cfg).next.phase, Phase::kCutover);
  RouterCounters bad = good;
  bad.mismatches = 5;  // 5% > 1%
  w.router_now = bad;
  EXPECT_EQ(NextStep(a, w, cfg).next.phase, Phase::kAborting);
  RouterCounters slow = good;
  slow.target_seconds = 4;  // ratio 3 > 1.5
  w.router_now = slow;
  EXPECT_EQ(NextStep(a, w, cfg).next.phase, Phase::kAborting);
}

TEST(Echoes, EchoAddIsDoneBeforeRoutingAndRoutingIsClearedBeforeEchoRemove) {
  StepConfig cfg;
  StepWorld w = HookWorld("kv-0");
  ActionRecord add;
  add.id = "e-0";
  add.type = ActionType::kAddEcho;
  add.range = 7;
  add.target = "kv-3";
  Step s = NextStep(add, w, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_TRUE(s.next.hook.Is(HookStep::kEchoAdd, HookState::kIntent));
  s = NextStep(RoundTrip(s.next), w, cfg);
  EXPECT_EQ(s.write, Write::kHookEchoAdd);
  EXPECT_TRUE(PollsProgress(s.write));
  s = NextStep(RoundTrip(s.next), w, cfg);
  EXPECT_EQ(s.write, Write::kAddEcho);
  EXPECT_EQ(s.next.phase, Phase::kCompleted);

  ActionRecord rm = add;
  rm.type = ActionType::kRemoveEcho;
  w.range.echoes = {"kv-3"};
  s = NextStep(rm, w, cfg);
  EXPECT_EQ(s.write, Write::kRemoveEcho);  // routing first
  EXPECT_TRUE(s.next.hook.Is(HookStep::kEchoRemove, HookState::kIntent));
  w.range.echoes.clear();
  s = NextStep(RoundTrip(s.next), w, cfg);
  EXPECT_EQ(s.write, Write::kHookEchoRemove);
  EXPECT_EQ(s.next.phase, Phase::kCompleted);
}

TEST(Reassign, RoutingOnlyWithAWarningNamingRangeAndOwner) {
  StepConfig cfg;
  ActionRecord a;
  a.id = "r-0";
  a.type = ActionType::kReassign;
  a.range = 7;
  a.source = "kv-0";
  a.target = "kv-3";
  StepWorld w = HookWorld("kv-0");
  w.source = {};
  Step s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kReassign);
  EXPECT_EQ(s.event, "RangeDataLost");
  EXPECT_TRUE(s.warning);
  EXPECT_NE(s.event_message.find("kv-0"), std::string::npos);
}

TEST(StatusBoundary, UnknownNamesAreErrorsNamingTheField) {
  Json j = ActionToJson(MoveIn(Phase::kReleasing, {HookStep::kRelease, HookState::kIntent}));
  EXPECT_EQ(j["phase"], "Releasing");
  EXPECT_EQ(j["hook"]["step"], "Release");
  EXPECT_EQ(j["hook"]["state"], "Intent");
  Json bad = j;
  bad["phase"] = "Teleporting";
  auto r = ActionFromJson(bad, "status.actions[3]");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("status.actions[3].phase"), std::string::npos);
  bad = j;
  bad["hook"]["step"] = "Jump";
  r = ActionFromJson(bad, "status.actions[3]");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("status.actions[3].hook.step"), std::string::npos);
  bad = j;
  bad["hook"]["state"] = "Maybe";
  r = ActionFromJson(bad, "status.actions[3]");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("status.actions[3].hook.state"), std::string::npos);
  bad = j;
  bad["routerBaseline"] = {{"requests", "many"}};
  r = ActionFromJson(bad, "status.actions[3]");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("routerBaseline.requests"), std::string::npos);
  for (int t = 0; t <= static_cast<int>(ActionType::kReassign); ++t) {
    auto type = static_cast<ActionType>(t);
    EXPECT_EQ(ParseActionType(ActionTypeName(type)), type);
  }
  for (int p = 0; p <= static_cast<int>(Phase::kFailed); ++p) {
    auto phase = static_cast<Phase>(p);
    EXPECT_EQ(ParsePhase(PhaseName(phase)), phase);
  }
}

TEST(Windows, ExecutionWaitsInsideABlackoutAndOutsideWindows) {
  planner::Policy p;
  std::string why;
  EXPECT_TRUE(ExecutionAllowed(p, 1795320000, &why));
  p.blackouts.push_back({"* * * * *", 60});  // always
  EXPECT_FALSE(ExecutionAllowed(p, 1795320000, &why));
  EXPECT_NE(why.find("blackout 0"), std::string::npos) << why;
  p.blackouts.clear();
  p.windows.push_back({"0 3 * * *", 60});  // 03:00-03:01 only
  EXPECT_FALSE(ExecutionAllowed(p, 1795320000 + 3600, &why));
  EXPECT_EQ(why, "outside every allowed window");
}

}  // namespace
}  // namespace shardcast::migrationpolicy
