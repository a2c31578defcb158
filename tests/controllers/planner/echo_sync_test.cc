// Echo sync work in the load model (migration.echoSyncCost): an echo pod
// carries its share of the reads and the sync of every write, the owner half
// of that sync per echo; echoes that cost more than they shed are not added,
// or go; a hot pod sheds the echoes it hosts before its ranges move.
#include <gtest/gtest.h>

#include "tests/controllers/planner/fixture.h"

namespace shardcast::planner::testing {
namespace {

const Action* Find(const Plan& p, ActionType t) {
  for (const auto& a : p.actions) {
    if (a.type == t) return &a;
  }
  return nullptr;
}

// Range 0 (load 100 of a 1000 pod, half reads) echoed on kv-2.
Fixture EchoedHalfReads(double sync_cost) {
  Fixture fx(4, 8, 0.4);
  fx.SetRange(0, 100);
  fx.in.state.ranges[0].read_fraction = 0.5;
  fx.in.state.ranges[0].echoes = {PodName(2)};
  fx.in.policy.echo_sync_cost = sync_cost;
  return fx;
}

TEST(EchoSync, AnEchoCarriesItsReadsAndTheSyncOfEveryWrite) {
  // Echo: 100 x 0.5 / 2 reads + 100 x 0.5 x 1.5 sync = 100 on top of 400.
  // Owner: 7 x 50 + 50 writes x (1 + 0.75) + 25 reads = 462.5.
  Plan p = MustPlan(EchoedHalfReads(1.5).in);
  EXPECT_NEAR(Row(p, "kv-2").before, 0.5, 1e-9);
  EXPECT_NEAR(Row(p, "kv-0").before, 0.4625, 1e-9);
  EXPECT_NEAR(Row(p, "kv-2").observed, 0.5, 1e-9);
  // Without sync cost the echo carries its reads only, as before.
  Plan free = MustPlan(EchoedHalfReads(0).in);
  EXPECT_NEAR(Row(free, "kv-2").before, 0.425, 1e-9);
  EXPECT_NEAR(Row(free, "kv-0").before, 0.425, 1e-9);
}

TEST(EchoSync, AnEchoOfARangeThatIsNotReadHeavyGoesEvenWhileItsOwnerIsHot) {
  // kv-0 is forecast to cross (not due for 50 min), under target at its peak.
  Fixture fx = EchoedHalfReads(1.5);
  fx.SetPodForecast(0, 0.95, 3000);
  Plan p = MustPlan(fx.in);
  const Action* rm = Find(p, ActionType::kRemoveEcho);
  ASSERT_NE(rm, nullptr);
  EXPECT_EQ(rm->pod, "kv-2");
  EXPECT_NE(rm->reason.find("costs more in sync than it sheds"), std::string::npos) << rm->reason;
  EXPECT_LT(rm->effect[0].after, rm->effect[0].before);  // the owner gains by losing it

  // A read-heavy range keeps its echo while the owner is hot.
  fx.in.state.ranges[0].read_fraction = 0.9;
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kRemoveEcho), 0u);
}

// kv-1 (owning ranges 8..15 at 55%) hosts an echo of kv-0's range 0 (300,
// 90% reads): 135 reads + 45 sync = 73%, due now.
Fixture HotEchoPod() {
  Fixture fx(4, 8, 0.3);
  fx.SetPodUtil(1, 0.55);
  fx.SetRange(0, 300);
  fx.in.state.ranges[0].read_fraction = 0.9;
  fx.in.state.ranges[0].echoes = {PodName(1)};
  fx.SetPodForecast(1, 0.95, 0);
  return fx;
}

TEST(EchoSync, AHotPodShedsTheEchoesItHostsBeforeItsRangesMove) {
  Fixture fx = HotEchoPod();
  Plan p = MustPlan(fx.in);
  EXPECT_NEAR(Row(p, "kv-1").before, 0.73, 1e-9);
  const Action* rm = Find(p, ActionType::kRemoveEcho);
  ASSERT_NE(rm, nullptr);
  EXPECT_EQ(rm->range, 0u);
  EXPECT_EQ(rm->pod, "kv-1");
  EXPECT_NE(rm->reason.find("relieved of its echo of range 0"), std::string::npos) << rm->reason;
  EXPECT_EQ(Count(p, ActionType::kMove), 0u);
  EXPECT_NEAR(Row(p, "kv-1").after, 0.55, 1e-9);
  // The owner takes the reads back: 262.5 + 300.
  EXPECT_NEAR(Row(p, "kv-0").after, 0.5625, 1e-9);
}

TEST(EchoSync, AnEchoStaysWhenItsOwnerCannotTakeItBack) {
  Fixture fx = HotEchoPod();
  fx.SetRange(1, 120);  // kv-0 would reach 64.5% without the echo
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kRemoveEcho), 0u);
  EXPECT_TRUE(Mentions(p.blocked, "its echo on hot kv-1 stays: owner kv-0 would reach"));
  EXPECT_GE(Count(p, ActionType::kMove), 1u);  // kv-1 moves its own ranges instead
  EXPECT_LE(Row(p, "kv-1").after, 0.6 + 1e-9);
}

TEST(EchoSync, AGiantWhoseEchoCostsItsOwnerMoreThanItShedsIsSplit) {
  // A giant (700 of 1000) at 80% reads; the other pods nearly idle.
  Fixture fx(4, 8, 0.4);
  for (int i = 1; i < 4; ++i) fx.SetPodUtil(i, 0.05);
  fx.SetRange(0, 700);
  fx.in.state.ranges[0].read_fraction = 0.8;
  fx.SetPodForecast(0, 0.99, 0);
  // At 1.5x an echo (280 reads + 210 sync) sheds 280 reads from the owner
  // and adds 105 of sync there.
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kAddEcho), 1u);
  EXPECT_EQ(Count(p, ActionType::kSplit), 0u);
  // At 4x the owner's sync (0.2 x 2 of the range) outweighs the reads shed.
  fx.in.policy.echo_sync_cost = 4;
  p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kAddEcho), 0u);
  EXPECT_EQ(Count(p, ActionType::kSplit), 1u);
}

TEST(EchoSync, NoEchoOfAHotRangeThatCostsItsOwnerMoreThanItSheds) {
  // kv-0 due at 80% with a hot range (200, 75% reads) among 8.
  Fixture fx(4, 8, 0.4);
  for (int i = 1; i < 4; ++i) fx.SetPodUtil(i, 0.2);
  fx.SetPodUtil(0, 0.8);
  fx.SetRange(0, 200);
  fx.in.state.ranges[0].read_fraction = 0.75;
  fx.SetPodForecast(0, 0.99, 0);
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(Count(p, ActionType::kAddEcho), 1u);
  // At 5x: the owner would carry 0.25 x 3.5 + 0.375 of the range: refused.
  fx.in.policy.echo_sync_cost = 5;
  p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kAddEcho), 0u);
  EXPECT_TRUE(Mentions(p.blocked, "more in sync (echoSyncCost 5.00) than it sheds"));
  EXPECT_GE(Count(p, ActionType::kMove), 1u);
}

TEST(EchoSync, TheCostIsValidated) {
  Fixture fx(2, 2);
  fx.in.policy.echo_sync_cost = -1;
  auto p = MakePlan(fx.in);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "policy.migration.echoSyncCost: must be in [0, 100]");
}

}  // namespace
}  // namespace shardcast::planner::testing
