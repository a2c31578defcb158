// Policy parsing, selection/conflicts, proposals and approval, limits,
// planner input.
#include <gtest/gtest.h>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/planner/schedule.h"

namespace shardcast::migrationpolicy {
namespace {

Json PolicyObj(const std::string& spec_json = "{}") {
  Json j = {{"apiVersion", "shardcast.dev/v1alpha1"},
            {"kind", "MigrationPolicy"},
            {"metadata",
             {{"name", "p"}, {"namespace", "ns"}, {"creationTimestamp", "2026-11-27T08:00:00Z"}}},
            {"spec", Json::parse(spec_json)}};
  return j;
}

TEST(ParsePolicy, DefaultsFollowTheCrd) {
  auto p = ParsePolicy(PolicyObj());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->mode, Mode::kProposal);
  EXPECT_EQ(p->planner.max_concurrent_migrations, 2);
  EXPECT_EQ(p->planner.cooldown_seconds, 300);
  EXPECT_EQ(p->proposal_ttl_seconds, 900);
  EXPECT_EQ(p->verification_seconds, 120);
  EXPECT_FALSE(p->planner.prewarm);
  auto on = ParsePolicy(PolicyObj(R"({"migration":{"prewarm":true}})"));
  ASSERT_TRUE(on) << on.error().message;
  EXPECT_TRUE(on->planner.prewarm);
  EXPECT_EQ(p->planner.echo_sync_cost, 1.5);
  auto cheap = ParsePolicy(PolicyObj(R"({"migration":{"echoSyncCost":0.5}})"));
  ASSERT_TRUE(cheap) << cheap.error().message;
  EXPECT_EQ(cheap->planner.echo_sync_cost, 0.5);
  EXPECT_EQ(p->created, *planner::ParseRfc3339("2026-11-27T08:00:00Z"));
}

TEST(ParsePolicy, BadFieldsAreNamed) {
  struct Case {
    std::string spec, field;
  } cases[] = {
      {R"({"mode":"Sometimes"})", "spec.mode"},
      {R"({"limits":{"cooldown":"soon"}})", "spec.limits.cooldown"},
      {R"({"limits":{"maxConcurrentMigrations":0}})", "spec.limits.maxConcurrentMigrations"},
      {R"({"thresholds":{"targetUtilization":0.9}})", "spec.thresholds.targetUtilization"},
      {R"({"windows":[{"schedule":"0 99 * * *","duration":"1h"}]})", "spec.windows[0].schedule"},
      {R"({"migration":{"shadow":{"enabled":"yes"}}})", "spec.migration.shadow.enabled"},
      {R"({"migration":{"prewarm":"always"}})", "spec.migration.prewarm"},
      {R"({"migration":{"echoSyncCost":-1}})", "spec.migration.echoSyncCost"},
      {R"({"migration":{"echoSyncCost":"high"}})", "spec.migration.echoSyncCost"},
      {R"({"shardSetSelector":{"matchExpressions":[{"key":"a","operator":"Near"}]}})",
       "spec.shardSetSelector.matchExpressions[0].operator"},
  };
  for (const auto& c : cases) {
    auto p = ParsePolicy(PolicyObj(c.spec));
    ASSERT_FALSE(p) << c.spec;
    EXPECT_NE(p.error().message.find(c.field), std::string::npos) << p.error().message;
  }
}

TEST(Conflicts, OldestThenNameWinsAndEveryoneSeesTheSameAnswer) {
  std::vector<PolicyRef> all = {
      {"b", 100, {"kv", "other"}},
      {"a", 100, {"kv"}},
      {"old", 50, {"db"}},
      {"young", 200, {"db", "kv"}},
  };
  Selection a = ResolveSelection("a", all);
  Selection b = ResolveSelection("b", all);
  Selection y = ResolveSelection("young", all);
  EXPECT_EQ(a.governed, std::vector<std::string>{"kv"});
  EXPECT_EQ(b.governed, std::vector<std::string>{"other"});
  EXPECT_TRUE(y.governed.empty());
  ASSERT_EQ(a.conflicts.size(), 1u);
  EXPECT_EQ(a.conflicts[0].chosen, "a");
  EXPECT_EQ(a.conflicts[0].policies, (std::vector<std::string>{"a", "b", "young"}));
  ASSERT_EQ(y.conflicts.size(), 2u);
  EXPECT_EQ(y.conflicts[0].shard_set, "db");
  EXPECT_EQ(y.conflicts[0].chosen, "old");
  EXPECT_EQ(y.conflicts[1].chosen, "a");
  // Order of the input does not matter.
  std::reverse(all.begin(), all.end());
  EXPECT_EQ(ResolveSelection("a", all).governed, a.governed);
  EXPECT_EQ(ResolveSelection("b", all).conflicts[0].chosen, "a");
}

planner::Plan OneMove() {
  planner::Plan p;
  p.id = "plan-00000000000000aa";
  planner::Action m;
  m.type = planner::ActionType::kMove;
  m.range = 3;
  m.from = "kv-0";
  m.to = "kv-2";
  m.reason = "kv-0 forecast 95% > 80%";
  p.actions.push_back(m);
  p.moves = 1;
  p.moved_lower_bound = 1;
  planner::PodRow r;
  r.pod = "kv-0";
  r.before = 0.95;
  r.after = 0.6;
  r.ranges_before = 4;
  r.ranges_after = 3;
  p.pods.push_back(r);
  return p;
}

TEST(Proposals, ExpireApproveAndNewIdAfterReplanning) {
  Json prop = BuildProposal({{"kv", OneMove(), 1.5e6}}, 1000, 900, "");
  std::string id = prop["id"];
  EXPECT_EQ(id, "plan-00000000000000aa-1000");
  EXPECT_EQ(prop["expiresAt"], planner::FormatRfc3339(1900));
  ASSERT_EQ(prop["actions"].size(), 1u);
  EXPECT_EQ(prop["actions"][0]["type"], "Move");
  EXPECT_EQ(prop["actions"][0]["range"], 3);
  EXPECT_EQ(prop["actions"][0]["reason"], "kv-0 forecast 95% > 80%");
  std::string reasons = prop["reasons"].dump();
  EXPECT_NE(reasons.find("kv/kv-0: utilization 95% -> 60%"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("1500000 bytes"), std::string::npos) << reasons;
  ASSERT_EQ(prop["pods"].size(), 1u);
  EXPECT_EQ(prop["pods"][0]["pod"], "kv-0");
  EXPECT_EQ(prop["pods"][0]["utilizationBefore"], "95%");
  EXPECT_EQ(prop["pods"][0]["utilizationAfter"], "60%");
  EXPECT_EQ(prop["pods"][0]["rangesBefore"], 4);
  EXPECT_EQ(prop["pods"][0]["rangesAfter"], 3);
  EXPECT_EQ(prop["movedRanges"], 1);
  EXPECT_EQ(prop["movedRangesLowerBound"], 1);
  EXPECT_EQ(prop["bytesMoved"], 1500000);

  EXPECT_EQ(JudgeProposal(prop, "", 1200), ProposalVerdict::kPending);
  EXPECT_EQ(JudgeProposal(prop, "plan-00000000000000aa-999", 1200), ProposalVerdict::kPending);
  EXPECT_EQ(JudgeProposal(prop, id, 1200), ProposalVerdict::kApproved);
  EXPECT_EQ(JudgeProposal(prop, id, 1900), ProposalVerdict::kExpired);  // approval too late
  EXPECT_EQ(JudgeProposal(Json(), id, 1200), ProposalVerdict::kNone);
  // Same actions re-planned later: a different id, so an old approval does not carry over.
  Json again = BuildProposal({{"kv", OneMove(), std::nullopt}}, 1900, 900, "");
  EXPECT_NE(again["id"], prop["id"]);
  EXPECT_EQ(JudgeProposal(again, id, 1901), ProposalVerdict::kPending);

  auto acts = ActionsFromProposal(prop);
  ASSERT_TRUE(acts) << acts.error().message;
  ASSERT_EQ(acts->size(), 1u);
  EXPECT_EQ((*acts)[0].phase, Phase::kPending);
  EXPECT_EQ((*acts)[0].source, "kv-0");
  EXPECT_EQ((*acts)[0].target, "kv-2");
  EXPECT_EQ((*acts)[0].id, id + "-0");
}

TEST(Proposals, MalformedActionsAreNamed) {
  Json prop = Json::parse(
      R"({"id":"x","actions":[{"id":"x-0","type":"Teleport","endpoint":"","state":"stable"}]})");
  auto acts = ActionsFromProposal(prop);
  ASSERT_FALSE(acts);
  EXPECT_NE(acts.error().message.find("status.proposal.actions[0].type"), std::string::npos);
}

ActionRecord Started(const std::string& type, int64_t at, const std::string& phase = "Migrating") {
  ActionRecord a;
  a.id = type + std::to_string(at);
  a.type = *ParseActionType(type);
  a.range = static_cast<uint32_t>(at % 100);
  a.started_at = at;
  a.phase = *ParsePhase(phase);
  return a;
}

TEST(Limits, ConcurrencyAndMovesPerHour) {
  planner::Policy p;
  p.max_concurrent_migrations = 2;
  p.max_moves_per_hour = 3;
  int64_t now = 10000;
  std::vector<ActionRecord> inflight = {Started("Move", now - 10)};
  EXPECT_TRUE(MayStartMigration(inflight, {}, p, now));
  inflight.push_back(Started("AddEcho", now - 5));
  EXPECT_FALSE(MayStartMigration(inflight, {}, p, now));  // 2 in flight
  inflight.back().phase = Phase::kCompleted;
  EXPECT_TRUE(MayStartMigration(inflight, {}, p, now));
  std::vector<ActionRecord> hist = {Started("Move", now - 100, "Completed")};
  EXPECT_FALSE(MayStartMigration(inflight, hist, p, now));  // 3 in the last hour
  hist[0].started_at = now - 4000;
  EXPECT_TRUE(MayStartMigration(inflight, hist, p, now));
  // Promotions do not count.
  EXPECT_TRUE(MayStartMigration({Started("Promote", now - 1)}, {}, p, now));

  planner::History h = HistoryFrom(inflight, hist, now);
  EXPECT_EQ(h.in_flight_migrations, 1);
  EXPECT_EQ(h.move_times.size(), 2u);
  EXPECT_EQ(h.range_last_action.count(static_cast<uint32_t>((now - 10) % 100)), 1u);
}

// Pods cool down after a change of role; moves and echoes cool their ranges
// only, so a warm pod given a pre-warm echo can still be promoted.
TEST(Limits, EchoesAndMovesCoolTheirRangesNotThePods) {
  const int64_t now = 10000;
  std::vector<ActionRecord> done = {
      Started("AddEcho", now - 30, "Completed"), Started("RemoveEcho", now - 20, "Completed"),
      Started("Move", now - 10, "Completed"), Started("Promote", now - 40, "Completed")};
  done[0].target = "kv-5";
  done[1].target = "kv-6";
  done[2].source = "kv-0";
  done[2].target = "kv-7";
  done[3].target = "kv-4";
  planner::History h = HistoryFrom({}, done, now);
  EXPECT_EQ(h.pod_last_action.count("kv-5"), 0u);
  EXPECT_EQ(h.pod_last_action.count("kv-6"), 0u);
  EXPECT_EQ(h.pod_last_action.count("kv-7"), 0u);
  EXPECT_EQ(h.pod_last_action.count("kv-0"), 0u);
  EXPECT_EQ(h.pod_last_action.at("kv-4"), now - 40);
  // Echo changes cool apart from the other actions on a range.
  EXPECT_EQ(h.range_last_echo.at(static_cast<uint32_t>((now - 30) % 100)), now - 30);
  EXPECT_EQ(h.range_last_echo.at(static_cast<uint32_t>((now - 20) % 100)), now - 20);
  EXPECT_EQ(h.range_last_action.count(static_cast<uint32_t>((now - 30) % 100)), 0u);
  EXPECT_EQ(h.range_last_action.at(static_cast<uint32_t>((now - 10) % 100)), now - 10);
}

// The planner plans promotions with their measured median duration: the
// completed ones in the history only.
TEST(Limits, HistoryMeasuresTheMedianPromotion) {
  const int64_t now = 10000;
  EXPECT_FALSE(HistoryFrom({}, {}, now).promotion_seconds.has_value());
  std::vector<ActionRecord> hist;
  for (int64_t took : {40, 300, 90}) {
    hist.push_back(Started("Promote", now - 1000, "Completed"));
    hist.back().finished_at = now - 1000 + took;
  }
  hist.push_back(Started("Promote", now - 900, "Failed"));
  hist.back().finished_at = now;  // failed: not a measure of a promotion
  hist.push_back(Started("Move", now - 900, "Completed"));
  hist.back().finished_at = now;
  std::vector<ActionRecord> inflight = {Started("Promote", now - 5000, "Promoting")};
  planner::History h = HistoryFrom(inflight, hist, now);
  ASSERT_TRUE(h.promotion_seconds.has_value());
  EXPECT_DOUBLE_EQ(*h.promotion_seconds, 90);
  // The newest promotion started, whatever its phase.
  ASSERT_TRUE(h.last_promotion.has_value());
  EXPECT_EQ(*h.last_promotion, now - 900);
  EXPECT_FALSE(HistoryFrom({}, {}, now).last_promotion.has_value());
}

// Moves are planned with their measured median time to handover (the router
// baseline at the cutover, else the finish): completed ones only.
TEST(Limits, HistoryMeasuresTheMedianMoveToItsHandover) {
  const int64_t now = 10000;
  EXPECT_FALSE(HistoryFrom({}, {}, now).move_seconds.has_value());
  std::vector<ActionRecord> hist;
  for (int64_t handover : {30, 70, 200}) {
    hist.push_back(Started("Move", now - 1000, "Completed"));
    hist.back().router_baseline = RouterCounters{};
    hist.back().router_baseline->observed_at = now - 1000 + handover;
    hist.back().finished_at = now - 1000 + handover + 500;  // the verification window
  }
  hist.push_back(Started("Move", now - 1000, "Completed"));
  hist.back().finished_at = now - 1000 + 60;  // no baseline: handed over at the finish
  hist.push_back(Started("Move", now - 900, "Reverted"));
  hist.back().finished_at = now;
  std::vector<ActionRecord> inflight = {Started("Move", now - 5000, "Copying")};
  planner::History h = HistoryFrom(inflight, hist, now);
  ASSERT_TRUE(h.move_seconds.has_value());
  EXPECT_DOUBLE_EQ(*h.move_seconds, 70);  // of 30, 60, 70, 200: the upper middle
}

// Owner changes: Moves past their cutover, at the cutover (router baseline,
// else the Verifying phase start, else the finish); not reverted, failed or
// not yet switched ones, nor other ShardSets'.
TEST(Limits, HandoversAreMovesPastTheirCutover) {
  auto move = [](const std::string& phase, uint32_t range) {
    ActionRecord a = Started("Move", 100, phase);
    a.range = range;
    a.shard_set = "kv";
    a.source = "kv-0";
    a.target = "kv-1";
    a.phase_started_at = 150;
    a.finished_at = phase == "Completed" || phase == "Reverted" ? 200 : 0;
    return a;
  };
  ActionRecord with_baseline = move("Completed", 1);
  with_baseline.router_baseline = RouterCounters{};
  with_baseline.router_baseline->observed_at = 170;
  ActionRecord other_set = move("Completed", 6);
  other_set.shard_set = "other";
  std::vector<ActionRecord> hist = {with_baseline, move("Completed", 2), move("Reverted", 3),
                                    move("Failed", 4), other_set};
  std::vector<ActionRecord> inflight = {move("Verifying", 5), move("Copying", 7)};
  auto h = Handovers(inflight, hist, "kv");
  std::map<uint32_t, int64_t> at;
  for (const auto& x : h) {
    EXPECT_EQ(x.from, "kv-0");
    EXPECT_EQ(x.to, "kv-1");
    at[x.range] = x.at;
  }
  EXPECT_EQ(at, (std::map<uint32_t, int64_t>{{1, 170}, {2, 200}, {5, 150}}));
}

TEST(PlanInput, PodMetricsSampleTime) {
  Json pm = {{"timestamp", "2026-11-27T08:00:05Z"}};
  ASSERT_TRUE(PodMetricsTime(pm).has_value());
  EXPECT_EQ(*PodMetricsTime(pm), 1795766405);
  EXPECT_FALSE(PodMetricsTime(Json{{"timestamp", "yesterday"}}).has_value());
  EXPECT_FALSE(PodMetricsTime(Json::object()).has_value());
}

// A split cools both halves, so a stale "hot" forecast cannot split the new
// upper half again in the next plan; a move cools only its range.
TEST(Limits, SplitCoolsBothHalvesAndMoveOnlyItsRange) {
  const int64_t now = 10000;
  ActionRecord split = Started("Split", now - 20, "Completed");
  split.range = 3;
  split.other = 7;
  split.split_at = 1000;
  ActionRecord move = Started("Move", now - 10, "Completed");
  move.range = 4;
  move.other = 9;  // ignored for a Move
  planner::History h = HistoryFrom({}, {split, move}, now);
  EXPECT_EQ(h.range_last_action.count(3u), 1u);
  EXPECT_EQ(h.range_last_action.count(7u), 1u);
  EXPECT_EQ(h.range_last_action.count(4u), 1u);
  EXPECT_EQ(h.range_last_action.count(9u), 0u);
}

TEST(PlanInput, ObservedOnlyIsReactiveAndNoDataIsSaid) {
  Json set = Json::parse(
      R"({"metadata":{"name":"kv"},"spec":{"replicas":2,"capacity":{"metric":"CPU","cpuMillis":1000},
    "keySpace":{"ranges":2}}})");
  Json routing =
      Json::parse(R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":1,"ranges":[
    {"id":0,"start":0,"end":2147483647,"owner":"kv-0","endpoint":"","state":"stable","echoes":[]},
    {"id":1,"start":2147483648,"end":4294967295,"owner":"kv-1","endpoint":"","state":"migrating","source":"kv-1","target":"kv-0","echoes":[{"pod":"kv-2","endpoint":""}]}]})");
  std::vector<PodInfo> pods = {{"kv-0", "active", true, "10.0.0.1"}, {"kv-1", "active", true, ""}};
  auto policy = ParsePolicy(PolicyObj());
  ASSERT_TRUE(policy);
  LoadInput load;
  auto b = BuildPlanInput(set, pods, routing, load, *policy, {}, 1000);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->no_data);
  load.observed["kv-0"] = 900;
  b = BuildPlanInput(set, pods, routing, load, *policy, {}, 1000);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->no_data);
  EXPECT_TRUE(b->reactive);
  EXPECT_DOUBLE_EQ(b->input.forecasts.pods["kv-0"].observed, 900);
  EXPECT_FALSE(b->input.forecasts.pods["kv-0"].trusted);
  EXPECT_EQ(b->input.state.ranges[1].state, planner::RangeState::kMigrating);
  EXPECT_EQ(b->input.state.ranges[1].echoes, std::vector<std::string>{"kv-2"});
  EXPECT_DOUBLE_EQ(b->input.state.pods[0].capacity, 1000);

  set["status"]["forecasts"] =
      Json::parse(R"([{"pod":"kv-0","horizonSeconds":600,"peak":700,"p90":950,"p99":990,
    "probExceed":0.97,"trusted":true}])");
  auto f = ParseForecasts(set);
  ASSERT_TRUE(f);
  load.forecasts = *f;
  b = BuildPlanInput(set, pods, routing, load, *policy, {}, 1000);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->reactive);
  EXPECT_TRUE(b->input.forecasts.pods["kv-0"].trusted);
  EXPECT_DOUBLE_EQ(b->input.forecasts.pods["kv-0"].p90, 950);
  EXPECT_DOUBLE_EQ(b->input.forecasts.horizon_seconds, 600);

  set["status"]["forecasts"][0]["p90"] = "high";
  auto bad = ParseForecasts(set);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("status.forecasts[0].p90"), std::string::npos);
  set["spec"]["capacity"]["cpuMillis"] = 0;
  auto nocap = BuildPlanInput(set, pods, routing, load, *policy, {}, 1000);
  ASSERT_FALSE(nocap);
  EXPECT_NE(nocap.error().message.find("spec.capacity.cpuMillis"), std::string::npos);
}

TEST(PlanInput, PodMetricsQuantities) {
  // Quantities are parsed by util::ParseCpuMillis (tests/util/quantity_test.cc).
  Json pm = Json::parse(R"({"containers":[{"usage":{"cpu":"300m"}},{"usage":{"cpu":"0.2"}}]})");
  EXPECT_DOUBLE_EQ(*PodMetricsMillicores(pm), 500);
  EXPECT_FALSE(PodMetricsMillicores(Json::object()));
}

// One unit for capacity (issue 10): with capacity.metric RequestsPerSecond
// the observed PodMetrics millicores are never divided by a requests/s
// capacity. Without forecasts there is nothing to plan on, and the input
// says why; with forecasts, the plan runs on them alone.
TEST(PlanInput, RequestsPerSecondCapacityNeverUsesMillicores) {
  Json set =
      Json::parse(R"({"metadata":{"name":"kv"},"spec":{"capacity":{"metric":"RequestsPerSecond",
    "requestsPerSecond":100},"keySpace":{"ranges":1}}})");
  Json routing =
      Json::parse(R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":1,"ranges":[
    {"id":0,"start":0,"end":4294967295,"owner":"kv-0","endpoint":"","state":"stable","echoes":[]}]})");
  std::vector<PodInfo> pods = {{"kv-0", "active", true, "10.0.0.1"}};
  auto policy = ParsePolicy(PolicyObj());
  ASSERT_TRUE(policy);
  LoadInput load;
  load.observed["kv-0"] = 900;  // millicores from PodMetrics
  auto b = BuildPlanInput(set, pods, routing, load, *policy, {}, 1000);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->no_data);
  EXPECT_NE(b->note.find("RequestsPerSecond"), std::string::npos) << b->note;
  EXPECT_EQ(b->input.forecasts.pods.count("kv-0"), 0u);
  EXPECT_DOUBLE_EQ(b->input.state.pods[0].capacity, 100);

  load.forecasts["kv-0"] = ForecastEntry{600, 40, 60, 70, 0.1, true};  // requests/s
  b = BuildPlanInput(set, pods, routing, load, *policy, {}, 1000);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->no_data);
  EXPECT_DOUBLE_EQ(b->input.forecasts.pods["kv-0"].observed,
                   40);  // the forecast, not 900 millicores
  EXPECT_DOUBLE_EQ(b->input.forecasts.pods["kv-0"].p90, 60);

  // With CPU capacity the millicores are the load, as before.
  set["spec"]["capacity"] = {{"metric", "CPU"}, {"cpuMillis", 1000}};
  b = BuildPlanInput(set, pods, routing, load, *policy, {}, 1000);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->note.empty());
  EXPECT_DOUBLE_EQ(b->input.forecasts.pods["kv-0"].observed, 900);
}

TEST(ParsePolicy, WithoutSelectorSelectsEveryShardSet) {
  auto p = ParsePolicy(PolicyObj());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->selector.Matches({}));
  EXPECT_TRUE(p->selector.Matches({{"app", "anything"}}));
}

TEST(Conditions, KeepTransitionTimeWhileUnchanged) {
  Json prev = BuildConditions({{"Conflict", "True", "R", "m"}}, Json::array(), 1, "t1");
  Json same = BuildConditions({{"Conflict", "True", "R", "m2"}}, prev, 2, "t2");
  EXPECT_EQ(same[0]["lastTransitionTime"], "t1");
  Json flipped = BuildConditions({{"Conflict", "False", "R", ""}}, prev, 2, "t2");
  EXPECT_EQ(flipped[0]["lastTransitionTime"], "t2");
}

}  // namespace
}  // namespace shardcast::migrationpolicy
