#include "controllers/planner/planner.h"

#include <gtest/gtest.h>

#include <map>

#include "controllers/planner/schedule.h"
#include "tests/controllers/planner/fixture.h"

namespace shardcast::planner {
namespace {

using testing::Count;
using testing::Fixture;
using testing::Mentions;
using testing::MustPlan;
using testing::PodName;
using testing::Row;

TEST(Planner, BalancedShardSetNeedsNothing) {
  Fixture fx(4, 8, 0.5);
  for (int i = 0; i < 4; ++i) fx.SetPodForecast(i, 0.01, std::nullopt);
  Plan p = MustPlan(fx.in);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(p.blocked.empty());
  ASSERT_EQ(p.pods.size(), 4u);
  for (const auto& r : p.pods) {
    EXPECT_NEAR(r.before, 0.5, 1e-9);
    EXPECT_NEAR(r.after, 0.5, 1e-9);
    EXPECT_EQ(r.ranges_before, 8u);
  }
  EXPECT_EQ(p.id, MustPlan(fx.in).id);
}

// Table-driven: one case per action type.
struct Case {
  const char* name;
  void (*setup)(Fixture&);
  ActionType expect;
  std::size_t count;
};

const Case kCases[] = {
    {"Move: forecast-hot pod sheds to target",
     [](Fixture& f) {
       f.SetPodUtil(0, 0.5, 0.9);
       f.SetPodForecast(0, 0.95, 0);
     },
     ActionType::kMove, 3},
    {"Promote: no active pod has room",
     [](Fixture& f) {
       for (int i = 0; i < 4; ++i) f.SetPodUtil(i, 0.58);
       f.SetPodUtil(0, 0.5, 0.9);
       f.SetPodForecast(0, 0.95, 0);
     },
     ActionType::kPromote, 1},
    {"Split: one range alone exceeds a pod's target",
     [](Fixture& f) {
       f.SetRange(0, 700);
       f.SetPodForecast(0, 0.99, 0);
     },
     ActionType::kSplit, 1},
    {"AddEcho: hot read-heavy range",
     [](Fixture& f) {
       for (int i = 1; i < 4; ++i) f.SetPodUtil(i, 0.15);  // room for 700 x (0.45 + 0.15)
       f.SetRange(0, 700);
       f.in.state.ranges[0].read_fraction = 0.9;
       f.SetPodForecast(0, 0.99, 0);
     },
     ActionType::kAddEcho, 1},
    {"RemoveEcho: echoed range went cold",
     [](Fixture& f) {
       f.in.state.ranges[0].echoes = {PodName(2)};
       f.in.state.ranges[0].read_fraction = 0.9;
       f.SetRange(0, 20);
     },
     ActionType::kRemoveEcho, 1},
    {"Merge: adjacent cold halves of a split range",
     [](Fixture& f) {
       f.in.state.configured_ranges = 31;  // one split happened earlier
       f.SetRange(0, 5);
       f.SetRange(1, 5);
     },
     ActionType::kMerge, 1},
    {"Demote: observed load low for the stabilization period",
     [](Fixture& f) {
       for (int i = 0; i < 4; ++i) f.SetPodUtil(i, 0.1);
       f.in.history.low_load_since = f.in.now - 3600;
       f.in.state.warm_pool_size = 1;
     },
     ActionType::kDemote, 1},
    {"ScaleIn: warm pool already full",
     [](Fixture& f) {
       for (int i = 0; i < 4; ++i) f.SetPodUtil(i, 0.1);
       f.in.history.low_load_since = f.in.now - 3600;
       f.in.state.warm_pool_size = 0;
     },
     ActionType::kScaleIn, 1},
};

class ActionTable : public ::testing::TestWithParam<Case> {};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

TEST_P(ActionTable, EmitsTheAction) {
  const Case& c = GetParam();
  Fixture fx(4, 8, 0.4, c.expect == ActionType::kPromote ? 1 : 0);
  c.setup(fx);
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, c.expect), c.count) << c.name;
  for (const auto& a : p.actions) {
    EXPECT_FALSE(a.reason.empty()) << ActionTypeName(a.type);
    EXPECT_FALSE(a.effect.empty()) << ActionTypeName(a.type);
  }
  auto after = ApplyPlan(fx.in.state, p);
  ASSERT_TRUE(after.ok()) << after.error().message;
}

INSTANTIATE_TEST_SUITE_P(Planner, ActionTable, ::testing::ValuesIn(kCases));

TEST(Planner, MoveDetailsAndPredictedEffect) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(p.moves, 3u);
  EXPECT_EQ(p.moved_lower_bound, 3u);
  for (const auto& a : p.actions) {
    ASSERT_EQ(a.type, ActionType::kMove);
    EXPECT_EQ(a.from, "kv-0");
    EXPECT_NE(a.to, "kv-0");
    ASSERT_EQ(a.effect.size(), 2u);
    EXPECT_LT(a.effect[0].after, a.effect[0].before);
    EXPECT_GT(a.effect[1].after, a.effect[1].before);
    EXPECT_GT(a.score, 0);
  }
  EXPECT_NEAR(Row(p, "kv-0").before, 0.9, 1e-9);
  EXPECT_LE(Row(p, "kv-0").after, 0.6 + 1e-9);
  EXPECT_GT(Row(p, "kv-0").imbalance, 0);
  for (int i = 1; i < 4; ++i) EXPECT_LE(Row(p, PodName(i)).after, 0.6 + 1e-9);
  auto after = ApplyPlan(fx.in.state, p);
  ASSERT_TRUE(after.ok());
  std::size_t on_zero = 0;
  for (const auto& r : after->ranges) on_zero += r.owner == "kv-0" ? 1 : 0;
  EXPECT_EQ(on_zero, 5u);
}

// The ShardSet controller sheds ranges above ceil(loadFactor * R / N) at its
// next routing write; a move beyond that bound would be undone, so the
// planner never makes one.
TEST(Planner, MovesRespectTheShardSetsBoundedLoadLimit) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  fx.in.state.load_factor = 1.1;  // bound ceil(1.1 * 32 / 4) = 9: one more range per pod
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(p.moves, 3u);
  std::map<std::string, int> in;
  for (const auto& a : p.actions) ++in[a.to];
  for (const auto& [pod, n] : in) EXPECT_LE(n, 1) << pod << " would own more than 9 ranges";
  auto after = ApplyPlan(fx.in.state, p);
  ASSERT_TRUE(after.ok());
  std::map<std::string, int> owned;
  for (const auto& r : after->ranges) ++owned[r.owner];
  for (const auto& [pod, n] : owned) EXPECT_LE(n, 9) << pod;
  // A bound of exactly the current share leaves no room at all: blocked, and said.
  fx.in.state.load_factor = 1.0;
  p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 0u);
  EXPECT_FALSE(p.blocked.empty());
}

TEST(Planner, PrefersCheapRangesAmongEquallyFewMoves) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  fx.in.state.ranges[5].size_bytes = 1e3;  // tiny: cheapest to move
  Plan p = MustPlan(fx.in);
  bool moved_five = false;
  for (const auto& a : p.actions) moved_five = moved_five || (a.range && *a.range == 5);
  EXPECT_TRUE(moved_five);
  EXPECT_EQ(p.moves, 3u);
}

TEST(Planner, PromoteThenMoveOntoThePromotedPod) {
  Fixture fx(4, 8, 0.58, 1);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  Plan p = MustPlan(fx.in);
  ASSERT_FALSE(p.actions.empty());
  EXPECT_EQ(p.actions[0].type, ActionType::kPromote);
  EXPECT_EQ(p.actions[0].pod, "kv-4");
  bool to_new = false;
  for (const auto& a : p.actions)
    to_new = to_new || (a.type == ActionType::kMove && a.to == "kv-4");
  EXPECT_TRUE(to_new);
  EXPECT_EQ(Row(p, "kv-4").role, PodRole::kActive);
}

TEST(Planner, BlockedWhenMaxReplicasReachedOrWarmPoolEmpty) {
  Fixture fx(4, 8, 0.58, 1);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  fx.in.state.max_replicas = 4;
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kPromote), 0u);
  EXPECT_TRUE(Mentions(p.blocked, "maxReplicas=4 reached"));

  Fixture empty(4, 8, 0.58, 0);
  empty.SetPodUtil(0, 0.5, 0.9);
  empty.SetPodForecast(0, 0.95, 0);
  Plan q = MustPlan(empty.in);
  EXPECT_TRUE(Mentions(q.blocked, "warm pool empty"));

  Fixture not_ready(4, 8, 0.58, 1);
  not_ready.in.state.pods[4].ready = false;
  not_ready.SetPodUtil(0, 0.5, 0.9);
  not_ready.SetPodForecast(0, 0.95, 0);
  Plan r = MustPlan(not_ready.in);
  EXPECT_TRUE(Mentions(r.blocked, "no ready pod"));
  for (const auto& a : r.actions) {
    EXPECT_NE(a.pod, "kv-4");
    EXPECT_NE(a.to, "kv-4");
  }
}

TEST(Planner, SplitHalvesTheKeyInterval) {
  Fixture fx(4, 8, 0.4);
  fx.SetRange(3, 700);
  fx.SetPodForecast(0, 0.99, 0);
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(Count(p, ActionType::kSplit), 1u);
  const Action* split = nullptr;
  for (const auto& a : p.actions) {
    if (a.type == ActionType::kSplit) split = &a;
  }
  const auto& r = fx.in.state.ranges[3];
  EXPECT_EQ(*split->range, 3u);
  EXPECT_EQ(*split->other, 32u);
  EXPECT_EQ(*split->split_at, r.start + (r.end - r.start) / 2 + 1);
  auto after = ApplyPlan(fx.in.state, p);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->ranges.size(), 33u);
}

TEST(Planner, SplitReusesTheSmallestFreeId) {
  Fixture fx(4, 8, 0.4);
  fx.in.state.ranges[5].id = 4000;  // id 5 was merged away earlier; a later split made 4000
  fx.SetRange(4000, fx.in.forecasts.ranges[5].observed);
  fx.in.forecasts.ranges.erase(5);
  fx.SetRange(3, 700);
  fx.SetPodForecast(0, 0.99, 0);
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(Count(p, ActionType::kSplit), 1u);
  for (const auto& a : p.actions) {
    if (a.type == ActionType::kSplit) {
      EXPECT_EQ(*a.other, 5u);
    }
  }
}

TEST(Planner, NoSplitPastTheRangeCap) {
  Fixture fx(4, static_cast<int>(kMaxRanges / 4), 0.4);
  ASSERT_EQ(fx.in.state.ranges.size(), kMaxRanges);
  fx.SetRange(3, 700);
  fx.SetPodForecast(0, 0.99, 0);
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kSplit), 0u);
  EXPECT_TRUE(Mentions(p.blocked, "the most a split may reach (2048)"));

  Fixture below(4, static_cast<int>(kMaxRanges / 4) - 1, 0.4);
  below.SetRange(3, 700);
  below.SetPodForecast(0, 0.99, 0);
  EXPECT_EQ(Count(MustPlan(below.in), ActionType::kSplit), 1u);
}

TEST(Planner, EchoGoesToAPodWithRoomAndNotTheOwner) {
  Fixture fx(4, 8, 0.4);
  for (int i = 1; i < 4; ++i) fx.SetPodUtil(i, 0.15);
  fx.SetPodUtil(3, 0.5);  // no room for the echo's share there
  fx.SetRange(0, 700);
  fx.in.state.ranges[0].read_fraction = 0.9;
  fx.SetPodForecast(0, 0.99, 0);
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(Count(p, ActionType::kAddEcho), 1u);
  for (const auto& a : p.actions) {
    if (a.type != ActionType::kAddEcho) continue;
    EXPECT_NE(a.pod, "kv-0");
    EXPECT_NE(a.pod, "kv-3");
    EXPECT_LT(a.effect[0].after, a.effect[0].before);  // owner relieved
    EXPECT_LE(a.effect[1].after, 0.6 + 1e-9);
  }
}

// The pod's sample was taken while it owned ranges 0..3 at 90%; two of them
// have moved since. Its observed load is what its ranges now carry (45%),
// not the 90% of its sample, so it is not hot "over maxUtilization now".
TEST(Planner, ObservedLoadFollowsRangesMovedSinceThePodsSample) {
  Fixture fx(3, 4, 0.2);
  fx.SetPodUtil(0, 0.9);
  fx.SetPodForecast(0, 0.0, std::nullopt);
  fx.in.state.ranges[0].owner = "kv-1";
  fx.in.state.ranges[1].owner = "kv-2";
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 0u);
  bool seen = false;
  for (const auto& row : p.pods) {
    if (row.pod == "kv-0") {
      seen = true;
      EXPECT_NEAR(row.observed, 0.45, 1e-9);
    }
    if (row.pod == "kv-1") {
      EXPECT_NEAR(row.observed, 0.425, 1e-9);  // 0.2 of its own + range 0's 0.225
    }
  }
  EXPECT_TRUE(seen);
}

TEST(Planner, ActsOnlyWhenLeadTimeIsAboutToRunOut) {
  // 3 moves of 10s, all at once (maxConcurrentMigrations 16): 10s needed;
  // margin max(60s, 2.5s) = 60s: act at ttc <= 70s.
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 600.0);
  Plan early = MustPlan(fx.in);
  EXPECT_EQ(early.moves, 0u);
  EXPECT_TRUE(Mentions(early.notes, "acting when within 70s (lead for 3 moves in 1 wave of 10s"));
  fx.SetPodForecast(0, 0.95, 75.0);
  EXPECT_EQ(MustPlan(fx.in).moves, 0u);
  fx.SetPodForecast(0, 0.95, 65.0);
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);
  // Unknown time to crossing: act now (never late).
  fx.SetPodForecast(0, 0.95, std::nullopt);
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);
  // Below confidence: nothing.
  fx.SetPodForecast(0, 0.5, 0.0);
  EXPECT_EQ(MustPlan(fx.in).moves, 0u);
}

TEST(Planner, PromotionLengthensTheLeadTime) {
  Fixture fx(4, 8, 0.58, 1);
  fx.SetPodUtil(0, 0.5, 0.9);
  // 3 moves in one wave (10s) + promotion (30s) = 40s, margin 60s: act at
  // <= 100s.
  fx.SetPodForecast(0, 0.95, 95.0);
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(Count(p, ActionType::kPromote), 1u);
  fx.SetPodForecast(0, 0.95, 130.0);
  // Not due: no promotion, no move (with spec.migration.prewarm the warm
  // pod would be pre-warmed meanwhile: prewarm_test.cc).
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kPromote), 0u);
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kMove), 0u);
  // Promotions measured at 90s (longer than leadTime.promotion): 10s + 90s =
  // 100s, margin 60s: act at <= 160s.
  fx.in.history.promotion_seconds = 90;
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kPromote), 1u);
  fx.SetPodForecast(0, 0.95, 190.0);
  EXPECT_TRUE(Mentions(MustPlan(fx.in).notes, "acting when within 160s"));
  // Measured faster than leadTime.promotion: the policy's lead stands.
  fx.in.history.promotion_seconds = 5;
  fx.SetPodForecast(0, 0.95, 130.0);
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kPromote), 0u);
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kMove), 0u);
}

// Pods due together share maxConcurrentMigrations: the moves of a pod that
// crosses later queue behind those of the pod crossing sooner.
TEST(Planner, APodsMovesQueueBehindThoseOfPodsCrossingSooner) {
  Fixture fx(6, 8, 0.3);
  fx.in.policy.max_concurrent_migrations = 2;
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 600.0);
  // Alone: 3 moves in 2 waves of 10s = 20s, margin 60s.
  EXPECT_TRUE(
      Mentions(MustPlan(fx.in).notes, "acting when within 80s (lead for 3 moves in 2 waves"));
  fx.SetPodUtil(1, 0.5, 0.9);
  fx.SetPodForecast(1, 0.95, 500.0);
  // kv-1 crosses sooner; kv-0's 3 moves follow its 3: 3 waves = 30s.
  Plan p = MustPlan(fx.in);
  EXPECT_TRUE(Mentions(p.notes, "acting when within 80s (lead for 3 moves in 2 waves"));
  EXPECT_TRUE(Mentions(
      p.notes, "acting when within 90s (lead for 3 moves after 3 of pods crossing sooner in 3"));
  fx.SetPodForecast(1, 0.95, 75.0);
  fx.SetPodForecast(0, 0.95, 85.0);
  p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 2u);  // both due; the first wave is the budget
  EXPECT_TRUE(Mentions(p.blocked, "kv-0")) << "kv-0 is due and waits for the budget";
}

// The moves run maxConcurrentMigrations at a time, each as long as the longer
// of leadTime.perRange and the measured median move (start to handover).
TEST(Planner, MovesInWavesOfTheMeasuredMoveSetTheLead) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 600.0);
  // One at a time: 3 waves of 10s = 30s, margin 60s.
  fx.in.policy.max_concurrent_migrations = 1;
  EXPECT_TRUE(
      Mentions(MustPlan(fx.in).notes, "acting when within 90s (lead for 3 moves in 3 waves"));
  // Two at a time: 2 waves.
  fx.in.policy.max_concurrent_migrations = 2;
  EXPECT_TRUE(
      Mentions(MustPlan(fx.in).notes, "acting when within 80s (lead for 3 moves in 2 waves"));
  // Moves measured at 100s: 2 waves of 100s = 200s, margin max(60s, 50s).
  fx.in.history.move_seconds = 100;
  EXPECT_TRUE(Mentions(MustPlan(fx.in).notes,
                       "acting when within 260s (lead for 3 moves in 2 waves of 100s"));
  fx.SetPodForecast(0, 0.95, 240.0);
  EXPECT_EQ(MustPlan(fx.in).moves, 2u);  // the first wave: the budget is two moves
  // Measured faster than leadTime.perRange: the policy's lead stands.
  fx.in.history.move_seconds = 1;
  EXPECT_EQ(MustPlan(fx.in).moves, 0u);
  fx.in.history.move_seconds = -1;
  auto bad = MakePlan(fx.in);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("history.moveSeconds"), std::string::npos);
}

// Forecasts, and their times to crossing, come once per forecast step: a
// crossing that would be too close by the next one is acted on now.
TEST(Planner, ActsOneForecastStepBeforeTheLeadRunsOut) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.in.policy.decision_interval_seconds = 600;
  fx.SetPodForecast(0, 0.95, 670.0);  // 70s + 600s
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);
  fx.SetPodForecast(0, 0.95, 700.0);
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 0u);
  EXPECT_TRUE(Mentions(p.notes, "acting when within 670s"));
  EXPECT_TRUE(Mentions(p.notes, "one forecast step 600s"));
  fx.in.policy.decision_interval_seconds = -1;
  auto bad = MakePlan(fx.in);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("policy.forecast.step"), std::string::npos);
}

TEST(Planner, UntrustedForecastFallsBackToObservedLoad) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.95);
  fx.SetPodForecast(0, 0.99, 0, /*trusted=*/false);
  Plan p = MustPlan(fx.in);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_NEAR(Row(p, "kv-0").before, 0.5, 1e-9);  // the observed load

  fx.SetPodUtil(0, 0.9, 0.9);
  fx.SetPodForecast(0, 0.0, std::nullopt, /*trusted=*/false);
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);  // reactive: observed over maxUtilization
}

TEST(Planner, AOneSampleOverloadTheForecastDoesNotExpectWaitsForTheNextSample) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.88, 0.5);
  fx.SetPodForecast(0, 0.1, std::nullopt);  // trusted, narrow band, P(exceed) 0.1
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);     // not tracked: acted on at once

  fx.in.history.unconfirmed_over = {"kv-0"};
  Plan p = MustPlan(fx.in);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(Mentions(p.notes, "in one sample only"));
  EXPECT_TRUE(Mentions(p.notes, "exceeds 90%"));

  // Over by more than lowConfidence.margin (80% + 10%): acted on at once.
  fx.SetPodUtil(0, 0.95, 0.5);
  fx.SetPodForecast(0, 0.1, std::nullopt);
  EXPECT_GT(MustPlan(fx.in).moves, 0u);

  // The forecast expects the crossing: acted on at once.
  fx.SetPodUtil(0, 0.88, 0.5);
  fx.SetPodForecast(0, 0.95, 0);
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);

  // No trusted forecast to weigh it against: reactive, acted on at once.
  fx.SetPodForecast(0, 0.1, std::nullopt, /*trusted=*/false);
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);

  // P(exceed) 0.3, but the band at the policy's confidence reaches 82%: the
  // forecast expects the crossing as possible, so the sample is acted on.
  fx.SetPodForecast(0, 0.3, std::nullopt);
  auto& f = fx.in.forecasts.pods["kv-0"];
  f.p50 = 0.75 * 1000;
  f.p90 = f.p99 = 0.82 * 1000;
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);
  f.p90 = f.p99 = 0.78 * 1000;  // below maxUtilization: it waits
  EXPECT_TRUE(MustPlan(fx.in).actions.empty());
}

TEST(Planner, HysteresisBetweenTargetAndMax) {
  // A pod at 70% (above target, below max) is neither relieved nor a receiver.
  Fixture fx(6, 8, 0.4);
  fx.SetPodUtil(1, 0.7);
  Plan p = MustPlan(fx.in);
  EXPECT_TRUE(p.actions.empty());
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  Plan q = MustPlan(fx.in);
  for (const auto& a : q.actions) EXPECT_NE(a.to, "kv-1");
  // After relief the source sits at or below target, not just below max.
  EXPECT_LE(Row(q, "kv-0").after, 0.6 + 1e-9);
  // Re-planning on the applied state does nothing (no flapping).
  auto after = ApplyPlan(fx.in.state, q);
  ASSERT_TRUE(after.ok());
  Fixture next = fx;
  next.in.state = *after;
  next.in.forecasts.pods.clear();
  Plan r = MustPlan(next.in);
  EXPECT_EQ(r.moves, 0u);
}

TEST(Planner, CooldownKeepsRecentlyMovedRangesInPlace) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  for (uint32_t id = 0; id < 8; ++id) fx.in.history.range_last_action[id] = fx.in.now - 60;
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 0u);
  EXPECT_TRUE(Mentions(p.blocked, "kv-0"));
  for (uint32_t id = 0; id < 8; ++id) fx.in.history.range_last_action[id] = fx.in.now - 301;
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);
}

TEST(Planner, LimitsCapMovesAndReportTheRest) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  fx.in.policy.max_concurrent_migrations = 2;
  fx.in.history.in_flight_migrations = 1;
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 1u);
  EXPECT_TRUE(Mentions(p.blocked, "maxConcurrentMigrations"));

  fx.in.policy.max_concurrent_migrations = 16;
  fx.in.history.in_flight_migrations = 0;
  fx.in.policy.max_moves_per_hour = 4;
  fx.in.history.move_times = {fx.in.now - 100, fx.in.now - 200, fx.in.now - 4000};
  Plan q = MustPlan(fx.in);
  EXPECT_EQ(q.moves, 2u);  // 2 of 4 used in the last hour
  EXPECT_TRUE(Mentions(q.blocked, "maxMovesPerHour"));
}

TEST(Planner, WindowsAndBlackouts) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  fx.in.policy.windows = {{"0 8 * * 1-5", 10 * 3600}};
  fx.in.now = *ParseRfc3339("2026-11-27T09:00:00Z");  // Friday, inside
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);
  fx.in.now = *ParseRfc3339("2026-11-28T09:00:00Z");  // Saturday, outside
  Plan out = MustPlan(fx.in);
  EXPECT_TRUE(out.actions.empty());
  EXPECT_TRUE(Mentions(out.blocked, "outside every allowed window"));
  EXPECT_NEAR(Row(out, "kv-0").after, Row(out, "kv-0").before, 1e-12);

  fx.in.now = *ParseRfc3339("2026-12-25T09:00:00Z");  // Friday, but Christmas blackout
  fx.in.policy.blackouts = {{"0 0 24 12 *", 48 * 3600}};
  Plan black = MustPlan(fx.in);
  EXPECT_TRUE(black.actions.empty());
  EXPECT_TRUE(Mentions(black.blocked, "blackout"));

  // Pre-evaluated booleans override the schedules.
  fx.in.policy.in_blackout = false;
  fx.in.policy.in_window = true;
  EXPECT_EQ(MustPlan(fx.in).moves, 3u);
  fx.in.policy.in_window = false;
  EXPECT_EQ(MustPlan(fx.in).moves, 0u);
}

TEST(Planner, ScaleInNeedsObservedLowLoadForTheStabilizationPeriod) {
  Fixture fx(4, 8, 0.1);
  fx.in.state.warm_pool_size = 1;
  // Forecast-only low load (observed is high): never scale in.
  for (int i = 0; i < 4; ++i) fx.SetPodUtil(i, 0.5, 0.1);
  fx.in.history.low_load_since = fx.in.now - 7200;
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kDemote), 0u);
  // Observed low, but not for long enough.
  for (int i = 0; i < 4; ++i) fx.SetPodUtil(i, 0.1);
  fx.in.history.low_load_since = fx.in.now - 600;
  Plan early = MustPlan(fx.in);
  EXPECT_TRUE(early.actions.empty());
  EXPECT_TRUE(Mentions(early.notes, "scaleInStabilization"));
  // Long enough: drain the victim (highest ordinal on a tie), then demote it.
  fx.in.history.low_load_since = fx.in.now - 1800;
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(Count(p, ActionType::kDemote), 1u);
  EXPECT_EQ(p.actions.back().type, ActionType::kDemote);
  EXPECT_EQ(p.actions.back().pod, "kv-3");
  EXPECT_EQ(p.moves, 8u);
  for (const auto& a : p.actions) {
    if (a.type == ActionType::kMove) {
      EXPECT_EQ(a.from, "kv-3");
    }
  }
  auto after = ApplyPlan(fx.in.state, p);
  ASSERT_TRUE(after.ok());
  for (const auto& r : after->ranges) EXPECT_NE(r.owner, "kv-3");
  // At minReplicas: nothing.
  fx.in.state.min_replicas = 4;
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kDemote), 0u);
}

// Low load for four pods at 10%: kv-3 is the victim and kv-2 the next one
// (three pods at 13%, two at 20% are still below scaleInUtilization 30%).
// kv-3's ranges go to the pods that stay, so the next scale-in does not move
// them again; when those have no room left, the next victim takes the rest.
TEST(Planner, ScaleInDrainsOntoThePodsThatStay) {
  Fixture fx(4, 8, 0.1);
  fx.in.history.low_load_since = fx.in.now - 3600;
  Plan p = MustPlan(fx.in);
  ASSERT_EQ(Count(p, ActionType::kDemote) + Count(p, ActionType::kScaleIn), 1u);
  EXPECT_EQ(p.actions.back().pod, "kv-3");
  EXPECT_EQ(p.moves, 8u);
  for (const auto& a : p.actions) {
    if (a.type == ActionType::kMove) {
      EXPECT_TRUE(a.to == "kv-0" || a.to == "kv-1") << a.to;
    }
  }
  // At most 10 ranges a pod (loadFactor 1.25 x 32 / 4): kv-0 and kv-1 take
  // two each, kv-2 two more, and two wait.
  fx.in.state.load_factor = 1.25;
  p = MustPlan(fx.in);
  std::size_t to_next = 0;
  for (const auto& a : p.actions) to_next += a.type == ActionType::kMove && a.to == "kv-2";
  EXPECT_EQ(p.moves, 6u);
  EXPECT_EQ(to_next, 2u);
  EXPECT_TRUE(Mentions(p.blocked, "waits for drain"));
}

// A promotion less than scaleInStabilization ago: capacity was needed (or
// forecast to be) that recently, so no pod is taken away yet. bench/e2e NAB
// (run E): kv-3 promoted at 05:44 and kv-0 scaled in at 06:08, then both
// promoted again at 07:12-07:16.
TEST(Planner, NoScaleInWithinStabilizationOfAPromotion) {
  Fixture fx(4, 8, 0.1);
  fx.in.history.low_load_since = fx.in.now - 3600;
  fx.in.policy.scale_in_stabilization_seconds = 1800;
  fx.in.history.last_promotion = fx.in.now - 600;
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 0u);
  EXPECT_EQ(Count(p, ActionType::kDemote) + Count(p, ActionType::kScaleIn), 0u);
  EXPECT_TRUE(Mentions(p.notes, "promoted 600s ago"));
  fx.in.history.last_promotion = fx.in.now - 1800;
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kScaleIn), 1u);
}

TEST(Planner, ScaleInWaitsForDrainUnderLimits) {
  Fixture fx(4, 8, 0.1);
  fx.in.history.low_load_since = fx.in.now - 3600;
  fx.in.policy.max_concurrent_migrations = 2;
  Plan p = MustPlan(fx.in);
  EXPECT_EQ(p.moves, 2u);
  EXPECT_EQ(Count(p, ActionType::kDemote) + Count(p, ActionType::kScaleIn), 0u);
  EXPECT_TRUE(Mentions(p.blocked, "waits for drain"));
}

TEST(Planner, ForecastCanVetoScaleIn) {
  Fixture fx(2, 8, 0.25);
  fx.in.history.low_load_since = fx.in.now - 3600;
  fx.in.policy.scale_in_utilization = 0.3;
  // Removing one of two pods at 25% leaves 50% <= 60%: allowed.
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kScaleIn), 1u);
  // Predicted peak 35% each: 70% on the survivor > target: vetoed.
  for (int i = 0; i < 2; ++i) fx.SetPodUtil(i, 0.25, 0.35);
  EXPECT_EQ(Count(MustPlan(fx.in), ActionType::kScaleIn), 0u);
}

TEST(Planner, PlanIdIsStableAndChangesWithTheActions) {
  Fixture fx(4, 8, 0.4);
  fx.SetPodUtil(0, 0.5, 0.9);
  fx.SetPodForecast(0, 0.95, 0);
  Plan a = MustPlan(fx.in);
  Plan b = MustPlan(fx.in);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.id.rfind("plan-", 0), 0u);
  fx.SetPodUtil(1, 0.5, 0.9);
  fx.SetPodForecast(1, 0.95, 0);
  EXPECT_NE(MustPlan(fx.in).id, a.id);
}

TEST(Planner, BadInputNamesTheField) {
  struct Bad {
    void (*mutate)(PlanInput&);
    const char* field;
  };
  const Bad cases[] = {
      {[](PlanInput& in) { in.state.pods[1].capacity = 0; }, "pods[1].capacity"},
      {[](PlanInput& in) { in.state.pods[1].name = "kv-0"; }, "pods[1].name"},
      {[](PlanInput& in) { in.state.ranges[2].owner = "nope"; }, "ranges[2].owner"},
      {[](PlanInput& in) { in.state.ranges[2].read_fraction = 1.5; }, "ranges[2].readFraction"},
      {[](PlanInput& in) { in.state.ranges[2].start = in.state.ranges[1].end; }, "overlaps"},
      {[](PlanInput& in) { in.policy.target_utilization = 0.9; }, "policy.thresholds"},
      {[](PlanInput& in) { in.policy.confidence = 0.2; }, "policy.forecast.confidence"},
      {[](PlanInput& in) { in.policy.max_concurrent_migrations = 0; }, "maxConcurrentMigrations"},
      {[](PlanInput& in) {
         in.policy.windows = {{"0 8 * *", 60}};
       },
       "policy.windows[0].schedule"},
      {[](PlanInput& in) { in.forecasts.ranges[3].prob_exceed = 2; },
       "forecasts.ranges[3].probExceed"},
      {[](PlanInput& in) { in.forecasts.ranges[3].p90 = -1; }, "forecasts.ranges[3].p90"},
      {[](PlanInput& in) { in.state.max_replicas = 0; }, "maxReplicas"},
  };
  for (const auto& c : cases) {
    Fixture fx(4, 8, 0.4);
    c.mutate(fx.in);
    auto p = MakePlan(fx.in);
    ASSERT_FALSE(p.ok()) << c.field;
    EXPECT_NE(p.error().message.find(c.field), std::string::npos) << p.error().message;
  }
}

TEST(Planner, QuantileFollowsConfidence) {
  SeriesForecast f;
  f.observed = 1;
  f.p50 = 10;
  f.p90 = 20;
  f.p99 = 40;
  EXPECT_DOUBLE_EQ(QuantileAt(f, 0.5), 10);
  EXPECT_DOUBLE_EQ(QuantileAt(f, 0.7), 15);
  EXPECT_DOUBLE_EQ(QuantileAt(f, 0.9), 20);
  EXPECT_DOUBLE_EQ(QuantileAt(f, 0.99), 40);
  f.observed = 50;
  EXPECT_DOUBLE_EQ(QuantileAt(f, 0.9), 50);  // never below what is observed now
}

}  // namespace
}  // namespace shardcast::planner
