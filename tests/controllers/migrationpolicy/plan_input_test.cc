// The planner on the production input path: ShardSet status JSON (contract
// C3: status.forecasts[].timeToCrossingSeconds / rangesRest and
// status.rangeForecasts) through ParseForecasts and BuildPlanInput into
// MakePlan, as the MigrationPolicy controller runs it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controllers/migrationpolicy/migrationpolicy.h"

namespace shardcast::migrationpolicy {
namespace {

using planner::ActionType;

constexpr int64_t kNow = 1795766400;  // 2026-11-27T08:00:00Z
constexpr int kPerPod = 8;

std::string Pod(int i) { return "kv-" + std::to_string(i); }

// `active` active pods (CPU capacity 1000m) with kPerPod contiguous ranges
// each, `warm` warm pods; status.forecasts filled by SetPod, status
// .rangeForecasts by SetRange.
struct World {
  Json set;
  Json routing;
  std::vector<PodInfo> pods;
  std::string policy_spec = "{}";
  LoadInput load;
  planner::History history;

  World(int active, int warm, int configured_ranges = 0) {
    const int n = active * kPerPod;
    set = {{"metadata", {{"name", "kv"}}},
           {"spec",
            {{"replicas", active},
             {"maxReplicas", active + warm + 2},
             {"warmPool", {{"size", warm}}},
             {"capacity", {{"metric", "CPU"}, {"cpuMillis", 1000}}},
             {"keySpace", {{"ranges", configured_ranges > 0 ? configured_ranges : n}}}}},
           {"status", {{"forecasts", Json::array()}, {"rangeForecasts", Json::array()}}}};
    routing = {{"schemaVersion", 1},
               {"shardSet", "kv"},
               {"hash", "fnv1a64-high32"},
               {"epoch", 1},
               {"ranges", Json::array()}};
    const uint64_t total = uint64_t{1} << 32;
    for (int i = 0; i < n; ++i) {
      routing["ranges"].push_back(
          {{"id", i},
           {"start", total * static_cast<uint64_t>(i) / static_cast<uint64_t>(n)},
           {"end", total * static_cast<uint64_t>(i + 1) / static_cast<uint64_t>(n) - 1},
           {"owner", Pod(i / kPerPod)},
           {"endpoint", ""},
           {"state", "stable"},
           {"echoes", Json::array()}});
    }
    for (int i = 0; i < active + warm; ++i) {
      pods.push_back({Pod(i), i < active ? "active" : "warm", true, "10.0.0." + std::to_string(i)});
    }
  }

  // A pod forecast in status.forecasts; observed load `obs` (metrics).
  Json& SetPod(int i, double obs, double p50, double p90, double prob, bool trusted = true) {
    load.observed[Pod(i)] = obs;
    set["status"]["forecasts"].push_back({{"pod", Pod(i)},
                                          {"horizonSeconds", 1800},
                                          {"peak", p50},
                                          {"p90", p90},
                                          {"p99", p90},
                                          {"probExceed", prob},
                                          {"trusted", trusted}});
    return set["status"]["forecasts"].back();
  }
  // A pod whose ranges share p50/p90 evenly (rangesRest only) and cold.
  void ColdPod(int i, double util) {
    Json& f = SetPod(i, util * 1000, util * 1000, util * 1000, 0);
    f["timeToCrossingSeconds"] = nullptr;
    f["rangesRest"] = {{"count", kPerPod}, {"p50", util * 1000}, {"p90", util * 1000}};
  }
  Json& SetRange(int id, int pod, double p50, double p90) {
    set["status"]["rangeForecasts"].push_back(
        {{"range", id}, {"pod", Pod(pod)}, {"p50", p50}, {"p90", p90}});
    return set["status"]["rangeForecasts"].back();
  }

  Result<BuiltInput> Build() {
    auto policy = ParsePolicy(Json{{"metadata", {{"name", "p"}, {"namespace", "ns"}}},
                                   {"spec", Json::parse(policy_spec)}});
    if (!policy) return unexpected(policy.error());
    auto f = ParseForecasts(set);
    if (!f) return unexpected(f.error());
    load.forecasts = *f;
    return BuildPlanInput(set, pods, routing, load, *policy, history, kNow);
  }
  planner::Plan Plan() {
    auto b = Build();
    EXPECT_TRUE(b) << b.error().message;
    if (!b) return {};
    auto p = planner::MakePlan(b->input);
    EXPECT_TRUE(p) << p.error().message;
    return p ? *p : planner::Plan{};
  }
};

// kv-0 forecast to cross at `ttc`: p90 900 of 1000 (target 600), its ranges
// 0..7 with range 3 the hottest (listed), the rest in rangesRest.
World HotPodWorld(double ttc, int warm = 0) {
  World w(4, warm);
  Json& f = w.SetPod(0, 500, 750, 900, 0.97);
  f["timeToCrossingSeconds"] = ttc;
  f["rangesRest"] = {{"count", 5}, {"p50", 300}, {"p90", 350}};
  w.SetRange(3, 0, 300, 380);
  w.SetRange(5, 0, 100, 120);
  w.SetRange(6, 0, 60, 70);
  for (int i = 1; i < 4; ++i) w.ColdPod(i, 0.2);
  return w;
}

// Every other active pod near target (560..580 of 600): no room for range 3.
void FillOthers(World& w) {
  for (int i = 1; i < 4; ++i) {
    Json& f = w.set["status"]["forecasts"][i];
    f["peak"] = 560;
    f["p90"] = 580;
    f["rangesRest"]["p50"] = 560;
    f["rangesRest"]["p90"] = 580;
  }
}

std::vector<const planner::Action*> Of(const planner::Plan& p, ActionType t) {
  std::vector<const planner::Action*> out;
  for (const auto& a : p.actions) {
    if (a.type == t) out.push_back(&a);
  }
  return out;
}

bool Mentions(const std::vector<planner::Finding>& fs, const std::string& text) {
  for (const auto& f : fs) {
    if (f.message.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(PlanInputC3, RangeForecastsSizesAndReadSharesReachThePlanner) {
  World w = HotPodWorld(60);
  w.set["status"]["rangeForecasts"][0]["sizeBytes"] = 5e6;
  w.set["status"]["rangeForecasts"][0]["readShare"] = 0.25;
  auto b = w.Build();
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->note.empty()) << b->note;
  const auto& in = b->input;
  EXPECT_EQ(in.state.ranges[3].size_bytes, 5e6);
  EXPECT_EQ(in.state.ranges[3].read_fraction, 0.25);
  EXPECT_FALSE(in.state.ranges[0].size_bytes);
  EXPECT_EQ(in.forecasts.pods.at("kv-0").time_to_crossing_seconds, 60);
  // C3 published, kv-1 has no crossing: the planner sees it at the horizon.
  EXPECT_EQ(in.forecasts.pods.at("kv-1").time_to_crossing_seconds, 1800);
  // kv-0's eight ranges: 3 listed, 5 sharing rangesRest evenly; scaled so
  // they sum to the pod's p50 750 and p90 900.
  double sum50 = 0, sum90 = 0;
  for (uint32_t r = 0; r < kPerPod; ++r) {
    ASSERT_EQ(in.forecasts.ranges.count(r), 1u) << r;
    sum50 += in.forecasts.ranges.at(r).p50;
    sum90 += in.forecasts.ranges.at(r).p90;
    EXPECT_TRUE(in.forecasts.ranges.at(r).trusted);
  }
  EXPECT_NEAR(sum50, 750, 1e-6);
  EXPECT_NEAR(sum90, 900, 1e-6);
  EXPECT_NEAR(in.forecasts.ranges.at(3).p90 / in.forecasts.ranges.at(0).p90, 380.0 / 70, 1e-9);
  EXPECT_NEAR(in.forecasts.ranges.at(0).p90, in.forecasts.ranges.at(7).p90, 1e-9);
  // Observed load is shared like p50: kv-0's ranges sum to its 500m.
  double obs = 0;
  for (uint32_t r = 0; r < kPerPod; ++r) obs += in.forecasts.ranges.at(r).observed;
  EXPECT_NEAR(obs, 500, 1e-6);
}

TEST(PlanInputC3, MalformedRangeForecastsAreNamedAndLeftOut) {
  World w = HotPodWorld(60);
  w.set["status"]["rangeForecasts"][1]["p90"] = "hot";
  auto b = w.Build();
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_NE(b->note.find("status.rangeForecasts[1].p90"), std::string::npos) << b->note;
  EXPECT_TRUE(b->input.forecasts.ranges.empty());
  w.set["status"]["rangeForecasts"][1]["p90"] = 120;
  w.set["status"]["forecasts"][0]["rangesRest"]["count"] = -1;
  b = w.Build();
  ASSERT_TRUE(b);
  EXPECT_NE(b->note.find("status.forecasts[0].rangesRest.count"), std::string::npos) << b->note;
}

TEST(PlanInputC3, HottestRangeMovesFirst) {
  World w = HotPodWorld(60);
  planner::Plan p = w.Plan();
  auto moves = Of(p, ActionType::kMove);
  ASSERT_EQ(moves.size(), 1u) << p.actions.size();
  EXPECT_EQ(*moves[0]->range, 3u);  // not range 0, the lowest id
  EXPECT_EQ(moves[0]->from, "kv-0");
}

TEST(PlanInputC3, FewerBytesForTheSameRelief) {
  World w = HotPodWorld(60);
  // Ranges 3 and 4 equally hot; either alone covers the excess.
  w.SetRange(4, 0, 300, 380);
  w.set["status"]["forecasts"][0]["rangesRest"] = {{"count", 4}, {"p50", 10}, {"p90", 10}};
  w.set["status"]["rangeForecasts"][0]["sizeBytes"] = 8e8;
  w.set["status"]["rangeForecasts"][3]["sizeBytes"] = 1e6;
  planner::Plan p = w.Plan();
  auto moves = Of(p, ActionType::kMove);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(*moves[0]->range, 4u);
  w.set["status"]["rangeForecasts"][0]["sizeBytes"] = 1e6;
  w.set["status"]["rangeForecasts"][3]["sizeBytes"] = 8e8;
  p = w.Plan();
  moves = Of(p, ActionType::kMove);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(*moves[0]->range, 3u);
}

TEST(PlanInputC3, HotReadHeavyRangeGetsAnEchoInsteadOfAMove) {
  World w = HotPodWorld(60);
  w.policy_spec = R"({"limits":{"maxConcurrentMigrations":8}})";  // an echo + 2 moves
  w.set["status"]["rangeForecasts"][0]["readShare"] = 0.95;
  planner::Plan p = w.Plan();
  auto echoes = Of(p, ActionType::kAddEcho);
  ASSERT_EQ(echoes.size(), 1u);
  EXPECT_EQ(*echoes[0]->range, 3u);
  EXPECT_NE(echoes[0]->pod, "kv-0");
  for (const auto* m : Of(p, ActionType::kMove)) EXPECT_NE(*m->range, 3u);
  EXPECT_LE(p.pods[0].after, 0.6 + 1e-9);
  // The same range mostly written is moved.
  w.set["status"]["rangeForecasts"][0]["readShare"] = 0.2;
  p = w.Plan();
  EXPECT_TRUE(Of(p, ActionType::kAddEcho).empty());
  ASSERT_EQ(Of(p, ActionType::kMove).size(), 1u);
  EXPECT_EQ(*Of(p, ActionType::kMove)[0]->range, 3u);
}

TEST(PlanInputC3, GiantRangeIsSplit) {
  World w(4, 0);
  Json& f = w.SetPod(0, 700, 800, 950, 0.99);
  f["timeToCrossingSeconds"] = 0;
  f["rangesRest"] = {{"count", 7}, {"p50", 100}, {"p90", 100}};
  w.SetRange(2, 0, 700, 850)["readShare"] = 0.1;
  // Room for an echo's 850 x (0.45 reads + 0.1 x 1.5 sync).
  for (int i = 1; i < 4; ++i) w.ColdPod(i, 0.05);
  planner::Plan p = w.Plan();
  auto splits = Of(p, ActionType::kSplit);
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(*splits[0]->range, 2u);
  // Read-heavy: an echo, no split.
  w.set["status"]["rangeForecasts"][0]["readShare"] = 0.9;
  p = w.Plan();
  EXPECT_TRUE(Of(p, ActionType::kSplit).empty());
  ASSERT_EQ(Of(p, ActionType::kAddEcho).size(), 1u);
}

TEST(PlanInputC3, ColdNeighboursOnOneOwnerAreMerged) {
  World w(2, 0, 15);  // 16 ranges in the document, 15 configured: one split happened
  w.ColdPod(0, 0.2);
  Json& f = w.SetPod(1, 400, 400, 420, 0);
  f["rangesRest"] = {{"count", 6}, {"p50", 60}, {"p90", 60}};
  w.SetRange(8, 1, 170, 180);
  w.SetRange(9, 1, 170, 180);
  planner::Plan p = w.Plan();
  auto merges = Of(p, ActionType::kMerge);
  ASSERT_EQ(merges.size(), 1u);
  // A cold pair of kv-1 (10..15 carry 10 each), not the hot 8 and 9.
  EXPECT_NE(*merges[0]->range, 8u);
  EXPECT_NE(*merges[0]->range, 9u);
  EXPECT_NE(*merges[0]->other, 9u);
}

// Lead time: with perRange 10s and promotion 30s, one move needs 10s, the
// margin is max(60s, 25%), and the next forecast comes one step (1m) later:
// act within 130s of the crossing, not before.
TEST(PlanInputC3, LeadTimeActsJustInTimeAndNotEarlier) {
  World late = HotPodWorld(130);
  EXPECT_EQ(Of(late.Plan(), ActionType::kMove).size(), 1u);
  World early = HotPodWorld(131);
  planner::Plan p = early.Plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(Mentions(p.notes, "acting when within 130s")) << p.notes.size();
  EXPECT_TRUE(Mentions(p.notes, "one forecast step 60s"));
  // A coarser forecast step acts that much earlier: at a 10m step, within 670s.
  early.policy_spec = R"({"forecast":{"step":"10m"}})";
  EXPECT_EQ(Of(early.Plan(), ActionType::kMove).size(), 1u);
  World step = HotPodWorld(671);
  step.policy_spec = early.policy_spec;
  EXPECT_TRUE(step.Plan().actions.empty());
  // Far away: nothing either.
  World far = HotPodWorld(1500);
  EXPECT_TRUE(far.Plan().actions.empty());
  // A longer perRange lead acts earlier: 5 min per range.
  far.policy_spec = R"({"migration":{"leadTime":{"perRange":"25m"}}})";
  EXPECT_EQ(Of(far.Plan(), ActionType::kMove).size(), 1u);
  // C3 published but no crossing within the horizon: nothing, although
  // probExceed is high (an old forecast controller's "unknown" acts now).
  World none = HotPodWorld(60);
  none.set["status"]["forecasts"][0].erase("timeToCrossingSeconds");
  EXPECT_TRUE(none.Plan().actions.empty());
}

// Promotion: every active pod is near target, so kv-0's move needs the warm
// pod; the crossing in 60s + promotion 30s + move 10s is due.
TEST(PlanInputC3, PromotionIsWeighedAgainstItsCost) {
  World w = HotPodWorld(60, 1);
  FillOthers(w);
  planner::Plan p = w.Plan();
  ASSERT_EQ(Of(p, ActionType::kPromote).size(), 1u);
  EXPECT_NE(Of(p, ActionType::kPromote)[0]->reason.find("expected overload prevented"),
            std::string::npos);
  // Holding the pod for 8h after promotion (scaleInStabilization) costs more
  // than the overload a 30-minute horizon can show: not promoted, and why.
  w.policy_spec = R"({"limits":{"scaleInStabilization":"8h"}})";
  p = w.Plan();
  EXPECT_TRUE(Of(p, ActionType::kPromote).empty());
  EXPECT_TRUE(Mentions(p.blocked, "not worth it"));
}

// A trusted forecast with a wide band (p90 - p50 > 30% of capacity) is low
// confidence: planned like the reactive arm, hot from maxUtilization - 10%.
TEST(PlanInputC3, WideBandActsLikeTheReactiveArmWithAMargin) {
  auto world = [](double observed, double p50, double p90) {
    World w(4, 0);
    Json& f = w.SetPod(0, observed, p50, p90, 0.95);
    f["timeToCrossingSeconds"] = 0;
    f["rangesRest"] = {{"count", 8}, {"p50", p50}, {"p90", p90}};
    for (int i = 1; i < 4; ++i) w.ColdPod(i, 0.2);
    return w;
  };
  // Wide band, observed 50%: nothing (a confident forecast would act).
  World wide = world(500, 450, 900);
  EXPECT_TRUE(wide.Plan().actions.empty());
  World narrow = world(500, 800, 900);
  EXPECT_FALSE(Of(narrow.Plan(), ActionType::kMove).empty());
  // Wide band, observed 75% (> 80% - 10%): acts on the observed load.
  World close = world(750, 450, 900);
  planner::Plan p = close.Plan();
  EXPECT_FALSE(Of(p, ActionType::kMove).empty());
  EXPECT_TRUE(Mentions(p.notes, "too wide to trust"));
  EXPECT_LE(p.pods[0].after, 0.6 + 1e-9);
}

// Scale-in of the pod promoted within the cooldown is refused and counted.
TEST(PlanInputC3, NoFlapping) {
  World w(3, 0);
  for (int i = 0; i < 3; ++i) w.ColdPod(i, 0.05 + 0.05 * i);
  w.set["spec"]["keySpace"]["hashing"] = {{"loadFactor", 2.0}};
  w.policy_spec = R"({"limits":{"maxConcurrentMigrations":16}})";
  w.history.low_load_since = kNow - 7200;
  planner::Plan p = w.Plan();
  EXPECT_EQ(Of(p, ActionType::kScaleIn).size() + Of(p, ActionType::kDemote).size(), 1u);
  EXPECT_EQ(p.flaps_refused, 0u);
  w.history.pod_last_action["kv-0"] = kNow - 100;  // promoted 100s ago (cooldown 300s)
  p = w.Plan();
  EXPECT_TRUE(Of(p, ActionType::kScaleIn).empty());
  EXPECT_TRUE(Of(p, ActionType::kDemote).empty());
  EXPECT_TRUE(Of(p, ActionType::kMove).empty());
  EXPECT_EQ(p.flaps_refused, 1u);
  EXPECT_TRUE(Mentions(p.blocked, "flap refused"));
  // After the cooldown it may go.
  w.history.pod_last_action["kv-0"] = kNow - 400;
  EXPECT_EQ(w.Plan().flaps_refused, 0u);
  // A warm pod demoted within the cooldown is not promoted again.
  World h = HotPodWorld(60, 1);
  FillOthers(h);
  h.history.pod_last_action["kv-4"] = kNow - 60;
  p = h.Plan();
  EXPECT_TRUE(Of(p, ActionType::kPromote).empty());
  EXPECT_EQ(p.flaps_refused, 1u);
}

// spec.events[].ranges multiplies only the named ranges, and the plan acts
// before the event starts (within the lead time).
TEST(PlanInputC3, EventRangesMultiplyOnlyThoseRanges) {
  auto world = [](const std::string& start) {
    World w(4, 0);
    w.ColdPod(0, 0.4);
    for (int i = 1; i < 4; ++i) w.ColdPod(i, 0.2);
    w.policy_spec = R"({"events":[{"name":"launch","start":")" + start +
                    R"(","duration":"1h","multiplier":6,"ranges":[3,4]}]})";
    return w;
  };
  World soon = world("2026-11-27T08:01:00Z");
  auto b = soon.Build();
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->input.policy.events.size(), 1u);
  EXPECT_EQ(b->input.policy.events[0].ranges, (std::vector<uint32_t>{3, 4}));
  planner::Plan p = soon.Plan();
  ASSERT_FALSE(p.actions.empty());
  for (const auto& a : p.actions) {
    if (a.type == ActionType::kMove) {
      EXPECT_EQ(a.from, "kv-0");
    }
  }
  // kv-0 carries 6 x 50 + 2 x 300 = 900 predicted; the others stay at 200.
  EXPECT_NEAR(p.pods[0].before, 0.9, 1e-9);
  EXPECT_NEAR(p.pods[1].before, 0.2, 1e-9);
  // Starting in 25 minutes: within the horizon, but not due yet.
  World later = world("2026-11-27T08:25:00Z");
  p = later.Plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(Mentions(p.notes, "acting when within"));
  // Over: no effect.
  World past = world("2026-11-27T06:00:00Z");
  p = past.Plan();
  EXPECT_NEAR(p.pods[0].before, 0.4, 1e-9);
  // Bad range ids are named.
  World bad = world("2026-11-27T08:01:00Z");
  bad.policy_spec =
      R"({"events":[{"start":"2026-11-27T08:01:00Z","duration":"1h","ranges":["x"]}]})";
  auto e = bad.Build();
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("spec.events[0].ranges[0]"), std::string::npos);
}

// kv-0's sample (900 of 1000, over maxUtilization 800) was taken before three
// of its eight ranges moved to kv-1, and the forecasts were published after
// (kv-0 at 550 with five ranges left). The sample describes the eight ranges
// it had: rescaled to the five it keeps, kv-0 is no longer over now, and no
// further range leaves it. kv-1's sample (200 for eight ranges) gains the
// three ranges at kv-0's rate. Before, each plan until kv-0's next sample
// moved more ranges off it (bench/e2e traffic: 13 moves off one pod).
TEST(PlanInputC3, SampleTakenBeforeAHandoverIsRescaledToTheCurrentRanges) {
  auto world = [](bool known_time, int64_t moved_at) {
    World w(4, 0);
    Json& f0 = w.SetPod(0, 900, 550, 600, 0.1);
    f0["rangesRest"] = {{"count", 5}, {"p50", 550}, {"p90", 600}};
    Json& f1 = w.SetPod(1, 200, 550, 600, 0.1);
    f1["rangesRest"] = {{"count", 11}, {"p50", 550}, {"p90", 600}};
    for (int i = 2; i < 4; ++i) w.ColdPod(i, 0.2);
    for (int r = 0; r < 3; ++r) {
      w.routing["ranges"][r]["owner"] = Pod(1);
      w.load.handovers.push_back({static_cast<uint32_t>(r), Pod(0), Pod(1), moved_at});
    }
    if (known_time) {
      for (int i = 0; i < 4; ++i) w.load.observed_at[Pod(i)] = kNow - 60;
    }
    return w;
  };
  auto moves_off_kv0 = [](const planner::Plan& p) {
    std::size_t n = 0;
    for (const auto& a : p.actions) n += a.type == ActionType::kMove && a.from == Pod(0);
    return n;
  };
  World w = world(true, kNow - 30);
  auto b = w.Build();
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_NEAR(b->input.forecasts.pods.at(Pod(0)).observed, 900.0 * 5 / 8, 1e-6);
  EXPECT_NEAR(b->input.forecasts.pods.at(Pod(1)).observed, 200 + 900.0 * 3 / 8, 1e-6);
  double kv0 = 0;
  for (int r = 3; r < 8; ++r)
    kv0 += b->input.forecasts.ranges.at(static_cast<uint32_t>(r)).observed;
  EXPECT_NEAR(kv0, 900.0 * 5 / 8, 1e-6);
  EXPECT_EQ(moves_off_kv0(w.Plan()), 0u);
  // The moves before the sample: it already describes the current ranges.
  World before = world(true, kNow - 90);
  auto bb = before.Build();
  ASSERT_TRUE(bb);
  EXPECT_DOUBLE_EQ(bb->input.forecasts.pods.at(Pod(0)).observed, 900);
  EXPECT_GT(moves_off_kv0(before.Plan()), 0u);
  // Sample times unknown: taken as fresh, not rescaled.
  World unknown = world(false, kNow - 30);
  auto bu = unknown.Build();
  ASSERT_TRUE(bu);
  EXPECT_DOUBLE_EQ(bu->input.forecasts.pods.at(Pod(0)).observed, 900);
}

}  // namespace
}  // namespace shardcast::migrationpolicy
