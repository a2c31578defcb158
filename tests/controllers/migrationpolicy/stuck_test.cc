// Issue 12: Aborting and Reverting never give up while an agent is
// unreachable, but they back off (per action, bounded), say which pod they
// cannot reach (status message, Planned condition, a Warning Event after
// maxAttempts) and resume from status after an operator restart.
#include <gtest/gtest.h>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "tests/controllers/migrationpolicy/reconciler_fixture.h"
#include "tests/controllers/migrationpolicy/step_fixture.h"

namespace shardcast::migrationpolicy {
namespace {

ActionRecord Aborting() {
  ActionRecord a = MoveRecord(Phase::kAborting);
  a.hook = {HookStep::kAbort, HookState::kIntent};
  return a;
}

ActionRecord RoundTrip(const ActionRecord& a) {
  auto r = ActionFromJson(ActionToJson(a), "status.actions[0]");
  EXPECT_TRUE(r) << r.error().message;
  return *r;
}

TEST(StuckBackoff, ExponentialPerActionAndBounded) {
  StepConfig cfg;  // maxAttempts 5
  std::vector<int64_t> waits;
  for (int n = 1; n <= 12; ++n) waits.push_back(StuckBackoff(n, cfg).count() / 1000);
  EXPECT_EQ(waits, (std::vector<int64_t>{1, 2, 4, 8, 30, 60, 120, 240, 300, 300, 300, 300}));
  for (int n = 1; n < 200; ++n) EXPECT_LE(StuckBackoff(n, cfg).count() / 1000, 300);
}

TEST(StuckBackoff, AbortNeverGivesUpAndNamesTheUnreachablePodAfterMaxAttempts) {
  StepConfig cfg;
  ActionRecord a = Aborting();
  const std::string pod = HookPod(a, Write::kHookAbort);
  EXPECT_EQ(pod, "kv-3");
  int64_t now = 1000;
  std::vector<int> notices;
  for (int i = 1; i <= 30; ++i) {
    a = RoundTrip(AfterFailure(a, "connect: connection refused", cfg, now, pod));
    ASSERT_EQ(a.phase, Phase::kAborting) << "attempt " << i;
    ASSERT_FALSE(a.terminal());
    EXPECT_TRUE(a.hook.Is(HookStep::kAbort, HookState::kIntent)) << "the intent is kept";
    EXPECT_EQ(a.retry_at, now + StuckBackoff(i, cfg).count() / 1000) << "attempt " << i;
    if (i >= cfg.max_attempts) {
      EXPECT_NE(a.message.find("pod kv-3 unreachable"), std::string::npos) << a.message;
      EXPECT_NE(a.message.find("Aborting cannot be given up"), std::string::npos) << a.message;
      EXPECT_TRUE(Stuck(a, cfg));
    } else {
      EXPECT_FALSE(Stuck(a, cfg));
    }
    if (auto n = NoticeAfterFailure(a, pod, "connect: connection refused", cfg)) {
      notices.push_back(i);
      EXPECT_EQ(n->reason, kStuckEventReason);
      EXPECT_NE(n->message.find("plan-1-0"), std::string::npos) << n->message;
      EXPECT_NE(n->message.find("cannot reach pod kv-3"), std::string::npos) << n->message;
    }
    now = a.retry_at;
  }
  EXPECT_EQ(notices, (std::vector<int>{5, 5 + kStuckReminderEvery, 5 + 2 * kStuckReminderEvery}));
  // Until retryAt nothing is called; then the same abort intent is retried,
  // and once it answers the move is Reverted (never Completed).
  StepWorld w;
  w.now = a.retry_at;
  w.range.found = true;
  w.range.owner = "kv-0";
  w.range.state = "migrating";
  w.range.source = "kv-0";
  w.range.target = "kv-3";
  w.source = w.target = {true, true, true};
  w.hooks = true;
  Step s = NextStep(a, w, cfg);
  EXPECT_EQ(s.write, Write::kHookAbort);
  s = NextStep(RoundTrip(s.next), w, cfg);
  EXPECT_EQ(s.write, Write::kRevert);
  EXPECT_EQ(s.next.phase, Phase::kReverted);
}

TEST(StuckBackoff, ReverseMoveNamesTheOldSourceItCannotReach) {
  StepConfig cfg;
  cfg.max_attempts = 2;
  ActionRecord a = Aborting();
  a.phase = Phase::kReverting;
  a.hook = {HookStep::kPrepare, HookState::kIntent, true};
  const std::string pod = HookPod(a, Write::kHookPrepare);
  EXPECT_EQ(pod, "kv-0") << "the reverse prepare runs on the old source";
  EXPECT_EQ(HookPod(a, Write::kHookRelease), "kv-3");
  EXPECT_EQ(HookPod(a, Write::kRevert), "");
  for (int i = 0; i < 5; ++i) a = AfterFailure(a, "timeout", cfg, 1000 + i, pod);
  EXPECT_EQ(a.phase, Phase::kReverting);
  EXPECT_TRUE(a.hook.Is(HookStep::kPrepare, HookState::kIntent, true));
  EXPECT_NE(a.message.find("pod kv-0 unreachable; Reverting cannot be given up"), std::string::npos)
      << a.message;
  // A step that may be given up is unchanged: abandoned after maxAttempts.
  ActionRecord copy = Aborting();
  copy.phase = Phase::kCopying;
  copy.hook = {HookStep::kCopy, HookState::kIntent};
  for (int i = 0; i < 2; ++i) copy = AfterFailure(copy, "x", cfg, 1000, "kv-3");
  EXPECT_EQ(copy.phase, Phase::kAborting);
  EXPECT_FALSE(NoticeAfterFailure(copy, "kv-3", "x", cfg));
}

class StuckReconcilerTest : public ReconcilerTest {
 protected:
  size_t AbortCalls() {
    size_t n = 0;
    for (const auto& c : hooks_->Calls()) n += c.method == "POST" && c.path == "/shardcast/abort";
    return n;
  }
  static std::string Planned(const Json& st) {
    for (const auto& c : st["conditions"]) {
      if (c["type"] == "Planned") return c.value("message", "");
    }
    return "";
  }
};

TEST_F(StuckReconcilerTest, UnreachableAgentBacksOffInStatusAndResumesAfterARestart) {
  EnableHooks();
  MarkRange0Migrating();
  Json a = MoveAction("a-0", 0, "Aborting");
  a["hook"] = {{"step", "Abort"}, {"state", "Intent"}};
  a["attempts"] = 4;  // the 5th failure reaches maxAttempts
  const Json spec = Json::parse(R"({"mode":"Auto"})");
  SetPolicy(spec, {{"actions", Json::array({a})}});
  hooks_->answers["/shardcast/abort"] = {503, "agent unavailable"};
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  ASSERT_EQ(AbortCalls(), 1u);
  Json st = LastStatus();
  Json got = st["actions"][0];
  EXPECT_EQ(got["phase"], "Aborting");
  EXPECT_EQ(got["attempts"], 5);
  EXPECT_EQ(got["hook"]["state"], "Intent");
  EXPECT_EQ(got["retryAt"], planner::FormatRfc3339(kNow + 30));
  EXPECT_NE(got["message"].get<std::string>().find("pod kv-2 unreachable"), std::string::npos)
      << got.dump();
  EXPECT_NE(Planned(st).find("a-0 (Aborting)"), std::string::npos) << Planned(st);
  EXPECT_NE(Planned(st).find("pod kv-2 unreachable"), std::string::npos) << Planned(st);
  // The operator restarts (a new reconciler on the status it left): the
  // backoff holds, no hook is called before retryAt.
  SetPolicy(spec, st);
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  EXPECT_EQ(AbortCalls(), 1u);
  // Past retryAt the agent is back: the same intent is retried and done.
  got["retryAt"] = planner::FormatRfc3339(kNow - 1);
  st["actions"][0] = got;
  SetPolicy(spec, st);
  hooks_->answers["/shardcast/abort"] = {200, R"({"state":"done"})"};
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  ASSERT_EQ(AbortCalls(), 2u);
  EXPECT_EQ(hooks_->Calls().back().body["action"], "a-0");
  st = LastStatus();
  EXPECT_EQ(st["actions"][0]["phase"], "Aborting");
  EXPECT_EQ(st["actions"][0]["hook"]["state"], "Done");
}

}  // namespace
}  // namespace shardcast::migrationpolicy
