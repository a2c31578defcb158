// Pre-warming (prewarm.cc): one lead time before a promotion falls due, the
// ranges the promoted pod would receive are echoed onto the warm pod; once
// due, the promotion takes that pod and the ranges move to their echo.
#include <gtest/gtest.h>

#include "controllers/planner/planner.h"
#include "tests/controllers/planner/fixture.h"

namespace shardcast::planner {
namespace {

using testing::Count;
using testing::Fixture;
using testing::Mentions;
using testing::MustPlan;

// 4 active pods at 58% and one warm pod kv-4; kv-0 heads for 90% (8 ranges
// of 11.25%, write-only, so an echo takes none of their load): 3 moves of
// 10s in one wave + a 30s promotion = 40s, margin 60s: due within 100s;
// pre-warmed within one more lead time, 140s.
Fixture HotFixture() {
  Fixture fx(4, 8, 0.58, 1);
  for (auto& r : fx.in.state.ranges) r.read_fraction = 0.0;
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.in.policy.prewarm = true;  // off by default
  return fx;
}

TEST(PlannerPrewarm, EchoesTheRangesAPromotionWillReceiveOntoTheWarmPodFirst) {
  Fixture fx = HotFixture();
  fx.SetPodForecast(0, 0.95, 200.0);  // beyond 140s: only watched
  Plan far = MustPlan(fx.in);
  EXPECT_TRUE(far.actions.empty());

  fx.SetPodForecast(0, 0.95, 130.0);
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kAddEcho), 3u);
  EXPECT_EQ(Count(p, ActionType::kPromote), 0u);
  EXPECT_EQ(Count(p, ActionType::kMove), 0u);
  for (const auto& a : p.actions) {
    EXPECT_EQ(a.pod, "kv-4");
    EXPECT_EQ(fx.in.state.ranges[*a.range].owner, "kv-0");
    EXPECT_NE(a.reason.find("pre-warming warm pod kv-4"), std::string::npos) << a.reason;
  }
  EXPECT_TRUE(Mentions(p.notes, "pre-warming kv-4 with 3 of the 3 ranges"));

  // Switched off: nothing until the promotion is due.
  fx.in.policy.prewarm = false;
  EXPECT_TRUE(MustPlan(fx.in).actions.empty());
}

TEST(PlannerPrewarm, ThePromotionTakesThePrewarmedPodAndTheRangesMoveToTheirEcho) {
  Fixture fx = HotFixture();
  fx.SetPodForecast(0, 0.95, 130.0);
  Plan warm = MustPlan(fx.in);
  auto state = ApplyPlan(fx.in.state, warm);
  ASSERT_TRUE(state.ok()) << state.error().message;
  fx.in.state = *state;
  std::set<uint32_t> echoed;
  for (const auto& a : warm.actions) echoed.insert(*a.range);

  // Planned again before due: nothing more to pre-warm.
  Plan again = MustPlan(fx.in);
  EXPECT_EQ(Count(again, ActionType::kAddEcho), 0u);
  EXPECT_EQ(Count(again, ActionType::kRemoveEcho), 0u);
  EXPECT_TRUE(Mentions(again.notes, "(3 already echoed there)"));

  // Due a minute later, while the echoes' cooldown still runs: a move to the
  // echo may follow an echo change at once; any other action on them may not.
  for (uint32_t id : echoed) fx.in.history.range_last_echo[id] = fx.in.now;
  fx.in.now += 60;
  fx.SetPodForecast(0, 0.95, 90.0);
  Plan due = MustPlan(fx.in);
  ASSERT_EQ(Count(due, ActionType::kPromote), 1u);
  EXPECT_EQ(due.actions[0].pod, "kv-4");
  ASSERT_EQ(Count(due, ActionType::kMove), 3u);
  for (const auto& a : due.actions) {
    if (a.type != ActionType::kMove) continue;
    EXPECT_TRUE(echoed.count(*a.range)) << "range " << *a.range << " was not pre-warmed";
    EXPECT_EQ(a.to, "kv-4");
    EXPECT_NE(a.reason.find("kv-4 echoes it: the move only catches up"), std::string::npos)
        << a.reason;
  }
  auto after = ApplyPlan(fx.in.state, due);
  ASSERT_TRUE(after.ok());
  for (const auto& r : after->ranges) {
    EXPECT_TRUE(r.echoes.empty()) << "range " << r.id << " still lists an echo";
  }
}

TEST(PlannerPrewarm, APrewarmIsRemovedWhenTheOwnerIsNoLongerHot) {
  Fixture fx = HotFixture();
  fx.SetPodForecast(0, 0.95, 130.0);
  auto state = ApplyPlan(fx.in.state, MustPlan(fx.in));
  ASSERT_TRUE(state.ok());
  fx.in.state = *state;
  // The forecast recedes: kv-0 stays at 50%.
  fx.SetPodUtil(0, 0.5, 0.5);
  fx.SetPodForecast(0, 0.05, std::nullopt);
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kRemoveEcho), 3u);
  for (const auto& a : p.actions) {
    EXPECT_EQ(a.pod, "kv-4");
    EXPECT_NE(a.reason.find("echo on warm pod kv-4 (a pre-warm) no longer needed"),
              std::string::npos)
        << a.reason;
  }
}

// Re-planned while the pre-warmed ranges cool down (they are not movable
// then): what they cover counts, and no other range is echoed anywhere.
TEST(PlannerPrewarm, ARePlanInCooldownKeepsThePrewarmAndAddsNothing) {
  Fixture fx = HotFixture();
  fx.SetPodForecast(0, 0.95, 130.0);
  Plan warm = MustPlan(fx.in);
  auto state = ApplyPlan(fx.in.state, warm);
  ASSERT_TRUE(state.ok());
  fx.in.state = *state;
  for (const auto& a : warm.actions) fx.in.history.range_last_echo[*a.range] = fx.in.now;
  fx.in.now += 60;
  fx.SetPodForecast(0, 0.95, 120.0);
  Plan again = MustPlan(fx.in);
  EXPECT_EQ(Count(again, ActionType::kAddEcho), 0u);
  EXPECT_TRUE(Mentions(again.notes, "pre-warming kv-4 with 3 of the 3 ranges"));
}

// As HotFixture, with two warm pods and kv-1 heading for 90% too, crossing
// 5s after kv-0.
Fixture TwoHotFixture() {
  Fixture fx(4, 8, 0.58, 2);
  for (auto& r : fx.in.state.ranges) r.read_fraction = 0.0;
  fx.in.policy.prewarm = true;
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodUtil(1, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 125.0);
  fx.SetPodForecast(1, 0.95, 130.0);
  return fx;
}

// Two hot pods due for promotions pre-warm two warm pods, one each, in
// ordinal order: the promotions take them in that order.
TEST(PlannerPrewarm, EachHotPodPrewarmsAWarmPodOfItsOwn) {
  Fixture fx = TwoHotFixture();
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kAddEcho), 6u);
  for (const auto& a : p.actions) {
    const std::string& owner = fx.in.state.ranges[*a.range].owner;
    EXPECT_EQ(a.pod, owner == "kv-0" ? "kv-4" : "kv-5") << "range " << *a.range;
  }
}

// The promotion takes the pod pre-warmed for the pod it relieves, whatever
// its ordinal: kv-1 falls due before kv-0 and gets kv-5, not kv-4.
TEST(PlannerPrewarm, APromotionTakesThePodPrewarmedForThePodItRelieves) {
  Fixture fx = TwoHotFixture();
  Plan warm = MustPlan(fx.in);
  ASSERT_EQ(Count(warm, ActionType::kAddEcho), 6u);
  auto state = ApplyPlan(fx.in.state, warm);
  ASSERT_TRUE(state.ok()) << state.error().message;
  fx.in.state = *state;
  for (const auto& a : warm.actions) fx.in.history.range_last_echo[*a.range] = fx.in.now;
  fx.in.now += 60;
  fx.SetPodForecast(0, 0.95, 135.0);  // receded: still pre-warmed, not due
  fx.SetPodForecast(1, 0.95, 90.0);   // due
  Plan due = MustPlan(fx.in);
  ASSERT_EQ(Count(due, ActionType::kPromote), 1u);
  for (const auto& a : due.actions) {
    if (a.type == ActionType::kPromote) {
      EXPECT_EQ(a.pod, "kv-5");
    }
    if (a.type == ActionType::kMove) {
      EXPECT_EQ(a.from, "kv-1");
      EXPECT_EQ(a.to, "kv-5") << "range " << *a.range;
    }
  }
  EXPECT_EQ(Count(due, ActionType::kMove), 3u);
}

// A warm pod is pre-warmed only with what it can carry under target, while
// it echoes the ranges and once it owns them.
TEST(PlannerPrewarm, AWarmPodIsPrewarmedOnlyWithWhatItCanCarry) {
  Fixture fx = HotFixture();
  fx.SetPodUtil(0, 0.5, 1.6);  // 8 write-only ranges of 20%: 5 to move
  fx.SetPodForecast(0, 0.95, 130.0);
  // Echoing a written range costs 1.5x its load (30% each): 2 fit.
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kAddEcho), 2u);
  EXPECT_TRUE(Mentions(p.blocked, "not pre-warmed: kv-4 would carry 90% echoing it"));
  // Sync for free: owning them binds, 3 fit (60%).
  fx.in.policy.echo_sync_cost = 0;
  p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kAddEcho), 3u);
  EXPECT_TRUE(Mentions(p.blocked, "not pre-warmed: kv-4 would carry 80% once promoted"));
}

}  // namespace
}  // namespace shardcast::planner
