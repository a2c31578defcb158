// The per-action state machine (NextStep), failure handling and routing edits.
#include <gtest/gtest.h>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "tests/controllers/migrationpolicy/step_fixture.h"

namespace shardcast::migrationpolicy {
namespace {

ActionRecord Move(const std::string& phase, int64_t phase_start = 1000) {
  const bool pending = phase == "Pending";
  return MoveRecord(*ParsePhase(phase), pending ? 0 : 900, pending ? 0 : phase_start);
}

StepWorld World(const std::string& owner = "kv-0", const std::string& state = "stable") {
  return MoveWorld(owner, state, /*hooks=*/false);
}

TEST(MoveStateMachine, PendingStartsAndPromotingWaitsForAnActiveReadyTarget) {
  StepConfig cfg;
  auto s = NextStep(Move("Pending"), World(), cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_STREQ(PhaseName(s.next.phase), "Promoting");
  EXPECT_EQ(s.next.started_at, 1010);
  EXPECT_EQ(s.event, "MoveStarted");

  StepWorld w = World();
  w.target = {true, false, true};  // warm
  s = NextStep(Move("Promoting"), w, cfg);
  EXPECT_EQ(s.write, Write::kWait);
  EXPECT_STREQ(PhaseName(s.next.phase), "Promoting");

  w.target = {true, true, true};
  s = NextStep(Move("Promoting"), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Migrating");
  EXPECT_EQ(s.next.phase_started_at, 1010);
}

TEST(MoveStateMachine, PromotingTimesOutIntoFailed) {
  StepConfig cfg;
  cfg.promotion_timeout_seconds = 5;
  StepWorld w = World();
  w.target = {true, false, false};
  auto s = NextStep(Move("Promoting", 1000), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Failed");
  EXPECT_EQ(s.next.finished_at, 1010);
  EXPECT_TRUE(s.warning);
}

TEST(MoveStateMachine, MigratingMarksRoutingOnceThenAdvances) {
  StepConfig cfg;
  auto s = NextStep(Move("Migrating"), World(), cfg);
  EXPECT_EQ(s.write, Write::kMarkMigrating);
  EXPECT_STREQ(PhaseName(s.next.phase), "Migrating");
  // After the write (or after a crash that lost the status write) the mark is
  // observed, so the step advances without writing routing again.
  s = NextStep(Move("Migrating"), World("kv-0", "migrating"), cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_STREQ(PhaseName(s.next.phase), "Cutover");
}

TEST(MoveStateMachine, HooksGoThroughPrepareAndCopy) {
  StepConfig cfg;
  StepWorld w = World("kv-0", "migrating");
  w.hooks = true;
  // Each hook's intent goes to status first (a status-only step), then the call.
  auto s = NextStep(Move("Migrating"), w, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kHookPrepare);
  EXPECT_STREQ(PhaseName(s.next.phase), "Copying");
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kHookCopy);
  EXPECT_STREQ(PhaseName(s.next.phase), "Cutover");
}

TEST(MoveStateMachine, ShadowPhaseMarksThenWaitsItsDuration) {
  StepConfig cfg;
  cfg.shadow = true;
  cfg.shadow_seconds = 60;
  auto s = NextStep(Move("Migrating"), World("kv-0", "migrating"), cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Shadow");
  s = NextStep(Move("Shadow", 1000), World("kv-0", "migrating"), cfg);
  EXPECT_EQ(s.write, Write::kMarkShadow);
  s = NextStep(Move("Shadow", 1000), World("kv-0", "shadow"), cfg);
  EXPECT_EQ(s.write, Write::kWait);
  StepWorld later = World("kv-0", "shadow");
  later.now = 1060;
  s = NextStep(Move("Shadow", 1000), later, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Cutover");
}

TEST(MoveStateMachine, CutoverWritesOwnerOnceAndIsIdempotent) {
  StepConfig cfg;
  auto s = NextStep(Move("Cutover"), World("kv-0", "migrating"), cfg);
  EXPECT_EQ(s.write, Write::kCutover);
  EXPECT_STREQ(PhaseName(s.next.phase), "Verifying");
  // Crash after the routing write: the owner is already the target.
  s = NextStep(Move("Cutover"), World("kv-3"), cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_STREQ(PhaseName(s.next.phase), "Verifying");
}

TEST(MoveStateMachine, CutoverCallsTheHookBeforeRouting) {
  StepConfig cfg;
  StepWorld w = World("kv-0", "migrating");
  w.hooks = true;
  auto s = NextStep(Move("Cutover"), w, cfg);
  EXPECT_EQ(s.write, Write::kNone);  // the intent
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kHookCutover);
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kCutover);
}

TEST(MoveStateMachine, VerifyingCompletesAfterTheWindowWhenHealthy) {
  StepConfig cfg;
  cfg.verification_seconds = 120;
  StepWorld w = World("kv-3");
  w.target_utilization = 0.5;
  auto s = NextStep(Move("Verifying", 1000), w, cfg);
  EXPECT_EQ(s.write, Write::kWait);
  w.now = 1120;
  s = NextStep(Move("Verifying", 1000), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
  EXPECT_EQ(s.event, "MoveCompleted");
  w.hooks = true;  // Releasing (the intent), then release on the source
  s = NextStep(Move("Verifying", 1000), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Releasing");
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kHookRelease);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
}

TEST(MoveStateMachine, HotTargetRevertsOnlyWhenItDoesWorseThanTheSource) {
  StepConfig cfg;
  cfg.max_utilization = 0.8;
  cfg.verification_seconds = 120;
  StepWorld w = World("kv-3");
  w.target_utilization = 0.9;
  w.source_utilization = 0.7;  // the target does worse: revert
  auto s = NextStep(Move("Verifying", 1000), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Reverting");
  EXPECT_NE(s.next.message.find("90% > maxUtilization 80% and the source's 70%"), std::string::npos)
      << s.next.message;
  // The source is as hot or hotter (load rising on both): the revert would
  // move the overload back, so the move stands and completes after its window.
  w.source_utilization = 0.95;
  w.now = 1000;
  s = NextStep(Move("Verifying", 1000), w, cfg);
  EXPECT_EQ(s.write, Write::kWait);
  w.now = 1120;
  s = NextStep(Move("Verifying", 1000), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
  w.source_utilization = 0.9;
  s = NextStep(Move("Verifying", 1000), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
}

TEST(MoveStateMachine, BadTargetMetricsRevert) {
  StepConfig cfg;
  cfg.max_utilization = 0.8;
  StepWorld w = World("kv-3");
  w.target_utilization = 0.95;
  auto s = NextStep(Move("Verifying"), w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Reverting");
  EXPECT_NE(s.next.message.find("utilization 95%"), std::string::npos) << s.next.message;
  EXPECT_TRUE(s.warning);

  // The target's error rate comes from the routers (C2), not pod annotations.
  w.target_utilization = 0.2;
  w.router_telemetry = true;
  w.router_now = RouterCounters{0, 200, 20};
  ActionRecord based = Move("Verifying");
  based.router_baseline = RouterCounters{0, 100, 0};
  s = NextStep(based, w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Reverting");
  EXPECT_NE(s.next.message.find("router error rate"), std::string::npos) << s.next.message;

  // Reverting routes back to the source, then (re-run) sees it done.
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kRevert);
  EXPECT_STREQ(PhaseName(s.next.phase), "Reverted");
  EXPECT_NE(s.next.message.find("verification failed: router error rate"), std::string::npos)
      << s.next.message;
  s = NextStep(Move("Reverting"), World("kv-0"), cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_STREQ(PhaseName(s.next.phase), "Reverted");
}

TEST(MoveStateMachine, RevertingClearsOurMarksBeforeCutover) {
  StepConfig cfg;
  auto s = NextStep(Move("Reverting"), World("kv-0", "migrating"), cfg);
  EXPECT_EQ(s.write, Write::kRevert);
}

TEST(MoveStateMachine, OwnerChangedUnderTheMoveStopsIt) {
  StepConfig cfg;
  auto s = NextStep(Move("Migrating"), World("kv-1"), cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Failed");
  s = NextStep(Move("Pending"), World("kv-3"), cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
  StepWorld gone = World();
  gone.range.found = false;
  s = NextStep(Move("Pending"), gone, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Failed");
}

TEST(MoveStateMachine, FailuresRetryThenAbandonWithAbort) {
  StepConfig cfg;
  cfg.max_attempts = 3;
  ActionRecord a = Move("Copying");
  a = AfterFailure(a, "copy hook: connection refused", cfg, 1010);
  EXPECT_STREQ(PhaseName(a.phase), "Copying");
  EXPECT_EQ(a.attempts, 1);
  a = AfterFailure(a, "x", cfg, 1011);
  EXPECT_STREQ(PhaseName(a.phase), "Copying");
  a = AfterFailure(a, "x", cfg, 1012);
  EXPECT_STREQ(PhaseName(a.phase), "Aborting");  // before cutover: abort, then clear marks
  EXPECT_EQ(a.attempts, 0);
  EXPECT_NE(a.message.find("abandoned after 3 attempts"), std::string::npos);
  // Before any mark: abandoning fails the action outright.
  ActionRecord p = Move("Promoting");
  for (int i = 0; i < 3; ++i) p = AfterFailure(p, "x", cfg, 1010);
  EXPECT_STREQ(PhaseName(p.phase), "Failed");
  EXPECT_EQ(RetryBackoff(1), std::chrono::milliseconds(1000));
  EXPECT_EQ(RetryBackoff(3), std::chrono::milliseconds(4000));
  EXPECT_EQ(RetryBackoff(20), std::chrono::milliseconds(30000));
}

TEST(PromoteStateMachine, AsksTheShardSetForOneMoreReplicaThenWaits) {
  StepConfig cfg;
  ActionRecord a;
  a.id = "p-0";
  a.type = ActionType::kPromote;
  a.target = "kv-3";
  StepWorld w = World();
  w.active_pods = 3;
  w.replicas_spec = 3;
  w.target = {true, false, true};
  auto s = NextStep(a, w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Promoting");
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kScaleReplicas);
  EXPECT_EQ(s.replicas, 4);
  w.replicas_spec = 4;  // after the patch: wait for the ShardSet controller
  s = NextStep(s.next, w, cfg);
  EXPECT_EQ(s.write, Write::kWait);
  w.target = {true, true, true};
  s = NextStep(s.next, w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
  // maxReplicas reached: fail with a warning, never silently.
  ActionRecord b = a;
  b.phase = Phase::kPromoting;
  b.phase_started_at = 1000;
  StepWorld full = World();
  full.active_pods = full.replicas_spec = full.max_replicas = 4;
  full.target = {true, false, true};
  s = NextStep(b, full, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Failed");
  EXPECT_TRUE(s.warning);
}

// A pending action of `type` on `range`.
ActionRecord Pending(const std::string& id, const std::string& type, uint32_t range) {
  ActionRecord a;
  a.id = id;
  a.type = *ParseActionType(type);
  a.range = range;
  return a;
}

TEST(OtherActions, EchoesEditRouting) {
  StepConfig cfg;
  ActionRecord a = Pending("x", "AddEcho", 1);
  a.target = "kv-3";
  auto s = NextStep(a, World(), cfg);
  EXPECT_EQ(s.write, Write::kAddEcho);
  StepWorld w = World();
  w.range.echoes = {"kv-3"};
  s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
}

TEST(OtherActions, SplitAndMergeAreOneIdempotentRoutingWrite) {
  StepConfig cfg;
  ActionRecord a = Pending("s", "Split", 0);
  a.other = 9;
  a.split_at = 1000;
  StepWorld w = World();
  w.range.start = 0;
  w.range.end = 1999;
  auto s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kSplit);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
  // After a crash between the routing write and the status write: done.
  w.range.end = 999;
  w.other.found = true;
  w.other.start = 1000;
  w.other.end = 1999;
  s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
  // The new id taken by an unrelated range: refused visibly.
  w.other.start = 5000;
  s = NextStep(a, w, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Failed");
  EXPECT_TRUE(s.warning);
  // A range being migrated is not re-cut under the move.
  StepWorld busy = World("kv-0", "migrating");
  busy.range.start = 0;
  busy.range.end = 1999;
  s = NextStep(a, busy, cfg);
  EXPECT_EQ(s.write, Write::kWait);

  ActionRecord m = a;
  m.type = ActionType::kMerge;
  m.split_at.reset();
  StepWorld mw = World();
  mw.range.start = 0;
  mw.range.end = 999;
  mw.other = mw.range;
  mw.other.start = 1000;
  mw.other.end = 1999;
  s = NextStep(m, mw, cfg);
  EXPECT_EQ(s.write, Write::kMerge);
  mw.other.owner = "kv-1";  // not on the same owner
  s = NextStep(m, mw, cfg);
  EXPECT_STREQ(PhaseName(s.next.phase), "Failed");
  mw.other.found = false;  // already merged
  s = NextStep(m, mw, cfg);
  EXPECT_EQ(s.write, Write::kNone);
  EXPECT_STREQ(PhaseName(s.next.phase), "Completed");
}

Json Doc() {
  return Json::parse(
      R"({"schemaVersion":1,"shardSet":"kv","epoch":7,"hash":"fnv1a64-high32","ranges":[
    {"id":0,"start":0,"end":2147483647,"owner":"kv-0","endpoint":"10.0.0.1:8080","state":"stable",
     "source":null,"target":null,"shadowFraction":0,"echoes":[],"extra":"kept"},
    {"id":7,"start":2147483648,"end":4294967295,"owner":"kv-0","endpoint":"10.0.0.1:8080","state":"stable",
     "source":null,"target":null,"shadowFraction":0,"echoes":[]}]})");
}

TEST(RoutingEdits, SplitThenMergeRestoresTheDocumentWithNewEpochs) {
  RoutingEdit sp;
  sp.write = Write::kSplit;
  sp.range = 0;
  sp.other = 3;
  sp.split_at = 1073741824;
  auto d = ApplyRoutingEdit(Doc(), sp);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ((*d)["ranges"].size(), 3u);
  EXPECT_EQ((*d)["epoch"], 8);
  EXPECT_EQ((*d)["ranges"][0]["id"], 0);
  EXPECT_EQ((*d)["ranges"][0]["end"], 1073741823u);
  EXPECT_EQ((*d)["ranges"][1]["id"], 3);
  EXPECT_EQ((*d)["ranges"][1]["start"], 1073741824u);
  EXPECT_EQ((*d)["ranges"][1]["end"], 2147483647u);
  EXPECT_EQ((*d)["ranges"][1]["owner"], "kv-0");
  EXPECT_EQ((*d)["ranges"][2]["id"], 7);
  // Errors name the field.
  auto again = ApplyRoutingEdit(*d, sp);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("splitAt"), std::string::npos) << again.error().message;
  RoutingEdit taken = sp;
  taken.split_at = 10;
  taken.other = 7;
  auto t = ApplyRoutingEdit(Doc(), taken);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("ranges[id=7]"), std::string::npos) << t.error().message;

  RoutingEdit mg;
  mg.write = Write::kMerge;
  mg.range = 0;
  mg.other = 3;
  auto back = ApplyRoutingEdit(*d, mg);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ((*back)["epoch"], 9);
  Json expect = Doc();
  expect["epoch"] = 9;
  EXPECT_EQ(*back, expect);
  RoutingEdit far = mg;
  far.other = 7;  // not adjacent to range 0 after the split
  auto f = ApplyRoutingEdit(*d, far);
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("not adjacent"), std::string::npos) << f.error().message;
}

TEST(RoutingEdits, MarkCutoverRevertEachBumpTheEpoch) {
  RoutingEdit e{Write::kMarkMigrating, 7, "kv-0", "kv-3", "10.0.0.4:8080", "10.0.0.1:8080", 0};
  auto d = ApplyRoutingEdit(Doc(), e);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ((*d)["epoch"], 8);
  RangeView v = ViewRange(*d, 7);
  EXPECT_EQ(v.state, "migrating");
  EXPECT_EQ(v.target, "kv-3");
  EXPECT_EQ((*d)["ranges"][0]["extra"], "kept");
  e.write = Write::kMarkShadow;
  e.shadow_fraction = 0.25;
  d = ApplyRoutingEdit(*d, e);
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["ranges"][1]["shadowFraction"], 0.25);
  e.write = Write::kCutover;
  d = ApplyRoutingEdit(*d, e);
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["epoch"], 10);
  v = ViewRange(*d, 7);
  EXPECT_EQ(v.owner, "kv-3");
  EXPECT_EQ(v.state, "stable");
  EXPECT_EQ((*d)["ranges"][1]["endpoint"], "10.0.0.4:8080");
  EXPECT_TRUE((*d)["ranges"][1]["target"].is_null());
  // A second cutover is refused: the owner is no longer the source.
  EXPECT_FALSE(ApplyRoutingEdit(*d, e));
  e.write = Write::kRevert;
  d = ApplyRoutingEdit(*d, e);
  ASSERT_TRUE(d);
  EXPECT_EQ(ViewRange(*d, 7).owner, "kv-0");
  EXPECT_EQ((*d)["ranges"][1]["endpoint"], "10.0.0.1:8080");
  EXPECT_EQ((*d)["epoch"], 11);
}

TEST(RoutingEdits, ErrorsNameTheField) {
  RoutingEdit e{Write::kMarkMigrating, 99, "kv-0", "kv-3", "", "", 0};
  auto d = ApplyRoutingEdit(Doc(), e);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("ranges[id=99]"), std::string::npos);
  e.range = 7;
  e.source = "kv-1";
  d = ApplyRoutingEdit(Doc(), e);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find(".owner"), std::string::npos);
}

TEST(HookProgress, ParsesAndRejectsBadShapes) {
  auto p = ParseHookProgress(R"({"state":"copying","progress":0.4})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->state, "copying");
  EXPECT_DOUBLE_EQ(p->progress, 0.4);
  EXPECT_FALSE(ParseHookProgress("nope"));
  auto bad = ParseHookProgress(R"({"state":"weird"})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("progress.state"), std::string::npos);
}

}  // namespace
}  // namespace shardcast::migrationpolicy
