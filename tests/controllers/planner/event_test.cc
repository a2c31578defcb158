// Declared events (Policy::events): met a lead time ahead, pod-wide events
// for pods planned on observed load, and the maxReplicas check.
#include <gtest/gtest.h>

#include "controllers/planner/planner.h"
#include "tests/controllers/planner/fixture.h"

namespace shardcast::planner {
namespace {

using testing::Count;
using testing::Fixture;
using testing::Mentions;
using testing::MustPlan;

RangeEvent Event(const Fixture& fx, int64_t in_seconds, double mult,
                 std::vector<uint32_t> ranges = {}) {
  return {"sale", fx.in.now + in_seconds, 3600, mult, std::move(ranges)};
}

// kv-0's 8 ranges x3 (0.3 -> 0.9): 3 moves of 10s, all at once (one wave of
// 10s), margin 60s. A crossing from the forecast is due within 70s; a
// declared event must have the moves done 10s (their lead) before it starts,
// so it is due within 80s.
TEST(PlannerEvents, DeclaredEventIsMetALeadTimeAhead) {
  auto plan_at = [](int64_t ttc) {
    Fixture fx(4, 8, 0.3);
    // Trusted pod forecasts that cross nothing: only the event makes kv-0 hot.
    for (int i = 0; i < 4; ++i) fx.SetPodForecast(i, 0.0, std::nullopt);
    fx.in.policy.events.push_back(Event(fx, ttc, 3, {0, 1, 2, 3, 4, 5, 6, 7}));
    return MustPlan(fx.in);
  };
  Plan due = plan_at(78);
  EXPECT_EQ(Count(due, ActionType::kMove), 3u);
  for (const auto& a : due.actions) EXPECT_EQ(a.from, "kv-0");
  Plan early = plan_at(85);
  EXPECT_TRUE(early.actions.empty());
  EXPECT_TRUE(Mentions(early.notes, "acting when within 80s"));
  EXPECT_TRUE(Mentions(early.notes, "done a lead time before it starts"));
}

// An event without ranges multiplies pods planned on observed load (no
// trusted forecast) before it starts; trusted pod forecasts already carry it.
TEST(PlannerEvents, PodWideEventScalesOnlyPodsWithoutATrustedForecast) {
  Fixture fx(2, 4, 0.3);
  fx.in.policy.events.push_back(Event(fx, 600, 2));
  fx.SetPodForecast(1, 0.0, std::nullopt);
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(p.pods.size(), 2u);
  EXPECT_NEAR(p.pods[0].before, 0.6, 1e-9);  // no pod forecast: x2
  EXPECT_NEAR(p.pods[1].before, 0.3, 1e-9);  // trusted: the forecast has it
  // Once the event runs, observed load shows it: no multiplier.
  fx.in.policy.events[0].start = fx.in.now - 60;
  p = MustPlan(fx.in);
  EXPECT_NEAR(p.pods[0].before, 0.3, 1e-9);
}

// A pod-wide event x2 on 0.45 (to 0.9) with no forecast is acted on before
// it starts: without the event the pods are not hot at all.
TEST(PlannerEvents, PodWideEventOnObservedLoadPromotesAhead) {
  Fixture fx(2, 4, 0.45, 2);
  EXPECT_TRUE(MustPlan(fx.in).actions.empty());
  fx.in.policy.events.push_back(Event(fx, 60, 2));
  Plan p = MustPlan(fx.in);
  EXPECT_GE(Count(p, ActionType::kPromote), 1u);
  EXPECT_GE(Count(p, ActionType::kMove), 1u);
}

TEST(PlannerEvents, ShortfallWhenMaxReplicasCannotCoverTheEvent) {
  Fixture fx(4, 4, 0.5);  // 4 x 500 = 2000 predicted; 800 per pod at maxUtilization
  fx.in.state.max_replicas = 6;
  fx.in.policy.events.push_back(Event(fx, 3 * 3600, 2));  // 4000: 5 pods
  Plan ok = MustPlan(fx.in);
  EXPECT_TRUE(ok.event_shortfalls.empty());
  fx.in.policy.events[0].multiplier = 3;  // 6000: 8 pods > 6
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(p.event_shortfalls.size(), 1u);
  EXPECT_EQ(p.event_shortfalls[0].event, "sale");
  EXPECT_EQ(p.event_shortfalls[0].pods_needed, 8);
  EXPECT_EQ(p.event_shortfalls[0].max_replicas, 6);
  EXPECT_EQ(p.event_shortfalls[0].start, fx.in.now + 3 * 3600);
  EXPECT_TRUE(Mentions(p.notes, "needs 8 active pods"));
  // Named ranges only: kv-0's 4 ranges (4 x 125) x10 -> 2000 + 4500 = 6500: 9 pods.
  fx.in.policy.events[0] = Event(fx, 3 * 3600, 10, {0, 1, 2, 3});
  p = MustPlan(fx.in);
  ASSERT_EQ(p.event_shortfalls.size(), 1u);
  EXPECT_EQ(p.event_shortfalls[0].pods_needed, 9);
  // Over: not reported.
  fx.in.policy.events[0].start = fx.in.now - 7200;
  EXPECT_TRUE(MustPlan(fx.in).event_shortfalls.empty());
  // Enough replicas: not reported.
  fx.in.policy.events[0].start = fx.in.now + 3 * 3600;
  fx.in.state.max_replicas = 9;
  EXPECT_TRUE(MustPlan(fx.in).event_shortfalls.empty());
}

// The pods of refused flaps are listed (the controller counts and reports them).
TEST(PlannerEvents, FlapPodsListed) {
  Fixture fx(3, 4, 0.05);
  fx.in.history.low_load_since = fx.in.now - 7200;
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(p.flaps_refused, 0u);
  ASSERT_EQ(Count(p, ActionType::kScaleIn) + Count(p, ActionType::kDemote), 1u);
  std::string victim = p.actions.back().pod;
  fx.in.history.pod_last_action[victim] = fx.in.now - 10;
  p = MustPlan(fx.in);
  EXPECT_EQ(p.flaps_refused, 1u);
  ASSERT_EQ(p.flap_pods.size(), 1u);
  EXPECT_FALSE(p.flap_pods[0].empty());
}

}  // namespace
}  // namespace shardcast::planner
