// Router telemetry (C2), range forecasts and time to crossing (C3), range
// sizes (C4): the pure parts of the forecast controller.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "controllers/api/shardset.h"
#include "controllers/forecast/range_forecast.h"
#include "controllers/forecast/range_sources.h"
#include "controllers/forecast/router_stats.h"
#include "tests/support/fake_http_getter.h"

namespace shardcast::forecast {
namespace {

Json MinimalSet() {
  return Json::parse(R"({"metadata":{"name":"kv","namespace":"ns"},"spec":{}})");
}

TEST(RoutersSpec, AbsentIsDisabledAndPresentTakesTheDefaultPort) {
  auto s = api::ParseShardSet(MinimalSet(), api::ShardSetUse::kLoad);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->routers.enabled);
  Json o = MinimalSet();
  o["spec"]["routers"] = {{"selector", {{"matchLabels", {{"app", "kv-router"}}}}}};
  s = api::ParseShardSet(o, api::ShardSetUse::kLoad);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->routers.enabled);
  EXPECT_EQ(s->routers.metrics_port, 9090);
  EXPECT_TRUE(s->routers.selector.Matches({{"app", "kv-router"}, {"x", "y"}}));
  EXPECT_FALSE(s->routers.selector.Matches({{"app", "kv"}}));
  EXPECT_EQ(MatchLabelsQuery(s->routers.selector_json), "app=kv-router");
}

TEST(RoutersSpec, ErrorsNameTheField) {
  const std::vector<std::pair<Json, std::string>> bad = {
      {Json{{"routers", 3}}, "spec.routers"},
      {Json{{"routers", Json::object()}}, "spec.routers.selector"},
      {Json{{"routers", {{"selector", Json::object()}}}},
       "spec.routers.selector: must not be empty"},
      {Json{{"routers", {{"selector", {{"matchLabels", {{"app", 1}}}}}}}},
       "spec.routers.selector.matchLabels.app"},
      {Json{{"routers",
             {{"selector", {{"matchExpressions", {{{"key", "a"}, {"operator", "Near"}}}}}}}}},
       "spec.routers.selector.matchExpressions[0].operator"},
      {Json{{"routers", {{"selector", {{"matchLabels", {{"a", "b"}}}}}, {"metricsPort", 0}}}},
       "spec.routers.metricsPort"},
  };
  for (const auto& [spec, field] : bad) {
    Json o = MinimalSet();
    o["spec"] = spec;
    auto r = api::ParseShardSet(o, api::ShardSetUse::kLoad);
    ASSERT_FALSE(r) << spec.dump();
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
  }
}

// What shardcast-router serves (router/proxy/metrics.cc), abridged.
const char* kRouterPage =
    R"(# HELP shardcast_router_range_requests_total Client requests per key range.
# TYPE shardcast_router_range_requests_total counter
shardcast_router_range_requests_total{range="3",kind="read"} 90
shardcast_router_range_requests_total{range="3",kind="write"} 10
shardcast_router_range_requests_total{range="7",kind="read"} 5
shardcast_router_range_errors_total{range="3"} 2
shardcast_router_range_latency_seconds_bucket{range="3",le="0.001"} 80
shardcast_router_range_latency_seconds_bucket{range="3",le="+Inf"} 100
shardcast_router_range_latency_seconds_sum{range="3"} 0.25
shardcast_router_range_latency_seconds_count{range="3"} 100
shardcast_router_shadow_comparisons_total{range="3",result="match"} 18
shardcast_router_shadow_comparisons_total{range="3",result="mismatch"} 1
shardcast_router_shadow_comparisons_total{range="3",result="error"} 1
shardcast_router_shadow_latency_seconds_sum{range="3",side="owner"} 0.02
shardcast_router_shadow_latency_seconds_sum{range="3",side="target"} 0.03
shardcast_router_shard_outstanding_requests{shard="10.0.0.1:6379"} 0
shardcast_router_range_requests_total{range="x",kind="read"} 1
)";

TEST(RouterMetrics, ParsesTheRoutersPerRangeFamilies) {
  std::vector<std::string> errors;
  RangeTelemetryMap m = ParseRouterMetrics(kRouterPage, &errors);
  ASSERT_EQ(errors.size(), 1u);  // range="x"
  ASSERT_EQ(m.size(), 2u);
  const RangeTelemetry& r = m.at(3);
  EXPECT_EQ(r.reads, 90);
  EXPECT_EQ(r.writes, 10);
  EXPECT_EQ(r.requests(), 100);
  EXPECT_EQ(r.errors, 2);
  EXPECT_DOUBLE_EQ(r.latency_sum, 0.25);
  EXPECT_EQ(r.shadow_compared(), 20);
  EXPECT_EQ(r.shadow_mismatches(), 2);  // a target error counts as a mismatch
  EXPECT_DOUBLE_EQ(r.shadow_owner_sum, 0.02);
  EXPECT_DOUBLE_EQ(r.shadow_target_sum, 0.03);
  EXPECT_EQ(m.at(7).reads, 5);
}

RangeTelemetryMap One(int id, double reads, double writes = 0, double mismatch = 0) {
  RangeTelemetry r;
  r.reads = reads;
  r.writes = writes;
  r.shadow_mismatch = mismatch;
  return {{id, r}};
}

TEST(RouterTotals, SumsOverReplicasAndRatesAreSummedPerRange) {
  RouterTotals t;
  EXPECT_TRUE(t.Add("r0", One(3, 100), 1000).empty());  // first scrape: no rate
  EXPECT_TRUE(t.Add("r1", One(3, 50), 1000).empty());
  EXPECT_EQ(t.totals().at(3).requests(), 150);
  auto a = t.Add("r0", One(3, 160), 1060);
  auto b = t.Add("r1", One(3, 110, 10), 1060);
  EXPECT_DOUBLE_EQ(a.at(3), 1.0);  // 60 requests in 60 s
  EXPECT_DOUBLE_EQ(b.at(3), 70.0 / 60);
  EXPECT_EQ(t.totals().at(3).requests(), 280);
}

TEST(RouterTotals, ARestartedRouterDoesNotMakeTheTotalGoDown) {
  RouterTotals t;
  (void)t.Add("r0", One(3, 1000, 0, 4), 1000);
  (void)t.Add("r0", One(3, 1200, 0, 4), 1060);
  auto rates = t.Add("r0", One(3, 30), 1120);  // restarted: 30 since the restart
  EXPECT_DOUBLE_EQ(rates.at(3), 0.5);
  EXPECT_EQ(t.totals().at(3).requests(), 1230);
  EXPECT_EQ(t.totals().at(3).shadow_mismatches(), 4);  // not lost with the restart
  // A restarted router that no longer reports range 3 gives it rate 0.
  rates = t.Add("r0", One(9, 6), 1180);
  EXPECT_DOUBLE_EQ(rates.at(3), 0.0);
  EXPECT_DOUBLE_EQ(rates.at(9), 0.1);
}

TEST(RouterTotals, AMissedScrapeIsCaughtUpNextTime) {
  RouterTotals t;
  (void)t.Add("r0", One(3, 100), 1000);
  (void)t.Add("r1", One(3, 100), 1000);
  (void)t.Add("r0", One(3, 160), 1060);  // r1 not answering at 1060
  EXPECT_EQ(t.totals().at(3).requests(), 260);
  auto r = t.Add("r1", One(3, 220), 1120);
  EXPECT_DOUBLE_EQ(r.at(3), 1.0);  // 120 over 120 s
  EXPECT_EQ(t.totals().at(3).requests(), 380);
}

// A rate is over the time between two answers of a router, not between two
// rounds: the second round started at 1120 but its scrape answered at 1180
// (a slow list before it), with 180 requests more than at 1060.
TEST(ScrapeRouters, ARateIsOverTheTimeBetweenTwoAnswers) {
  testing::FakeHttpGetter http;
  RouterTotals totals;
  const std::vector<RouterPod> routers = {{"r0", "10.0.0.1"}};
  auto body = [](int requests) {
    return "shardcast_router_range_requests_total{range=\"3\",kind=\"read\"} " +
           std::to_string(requests) + "\n";
  };
  auto none = [] { return std::chrono::milliseconds(0); };
  int64_t clock = 1060;
  auto now = [&clock] { return clock; };
  http.bodies["10.0.0.1"] = body(100);
  RouterRound first = ScrapeRouters(http, totals, routers, 9090, std::chrono::seconds(1),
                                    std::chrono::seconds(5), none, now);
  EXPECT_EQ(first.scraped, 1);
  EXPECT_TRUE(first.range_rates.empty());  // a baseline
  http.bodies["10.0.0.1"] = body(280);
  clock = 1180;
  RouterRound second = ScrapeRouters(http, totals, routers, 9090, std::chrono::seconds(1),
                                     std::chrono::seconds(5), none, now);
  ASSERT_EQ(second.range_rates.count(3), 1u);
  EXPECT_DOUBLE_EQ(second.range_rates.at(3), 1.5);  // 180 over 120 s, not over 60 s
}

TEST(RouterStats, ListsMovingAndRecentlyMovedRangesBoundedAndSorted) {
  OwnerChanges oc;
  std::map<int, RangeRouting> doc;
  for (int i = 0; i < 200; ++i) doc[i] = {"kv-" + std::to_string(i % 4), "stable"};
  oc.Observe(doc, 0);
  EXPECT_TRUE(oc.Select(0, 900, 64).empty());  // the first sight is not a change
  doc[5].state = "shadow";
  doc[9].owner = "kv-3";  // moved at 100
  oc.Observe(doc, 100);
  EXPECT_EQ(oc.Select(100, 900, 64), (std::vector<int>{5, 9}));
  EXPECT_EQ(oc.Select(100 + 900, 900, 64), (std::vector<int>{5}));  // 15 minutes later
  for (int i = 100; i < 200; ++i) doc[i].owner = "kv-9";
  oc.Observe(doc, 200);
  auto sel = oc.Select(200, 900, 64);
  ASSERT_EQ(sel.size(), 64u);
  EXPECT_TRUE(std::is_sorted(sel.begin(), sel.end()));
  EXPECT_EQ(sel.front(), 5);  // not stable: always kept

  RangeTelemetryMap totals = One(5, 90, 10);
  totals[5].shadow_match = 7;
  totals[5].shadow_owner_sum = 0.0123456789;
  Json st = RouterStatsToStatus(totals, {5, 9}, 2, 1764662400);
  EXPECT_EQ(st["observedAt"], "2025-12-02T08:00:00Z");
  EXPECT_EQ(st["routers"], 2);
  ASSERT_EQ(st["ranges"].size(), 2u);
  EXPECT_EQ(st["ranges"][0],
            Json::parse(R"({"range":5,"requests":100,"errors":0,"latencySecondsSum":0,
              "shadowCompared":7,"shadowMismatches":0,"shadowOwnerSecondsSum":0.0123457,
              "shadowTargetSecondsSum":0})"));
  EXPECT_EQ(st["ranges"][1]["range"], 9);
  EXPECT_EQ(st["ranges"][1]["requests"], 0);
}

predictor::ForecastResult Path(const std::vector<double>& p90) {
  // A result whose 0.9 quantile is `p90` (error scale 0: every quantile is
  // the point).
  predictor::ForecastResult g;
  g.point = p90;
  g.p50 = p90;
  g.scale.assign(p90.size(), 0.0);
  g.quantiles = {0.5, 0.9};
  g.q = {p90, p90};
  g.z = {0.0};
  return g;
}

TEST(TimeToCrossing, FirstStepOfTheP90PathAboveTheThreshold) {
  // step 60 s, forecast origin 30 s after now.
  auto g = Path({100, 500, 790, 801, 900, 700});
  EXPECT_EQ(TimeToCrossing(g, 1.0, 800, 1030, 60, 1000), 30 + 3 * 60);
  EXPECT_EQ(TimeToCrossing(g, 2.0, 800, 1030, 60, 1000), 30 + 1 * 60);  // unit scales the path
  EXPECT_EQ(TimeToCrossing(g, 1.0, 1000, 1030, 60, 1000), std::nullopt);
  EXPECT_EQ(TimeToCrossing(Path({900}), 1.0, 800, 960, 60, 1000), 0);  // already crossing
}

PodForecast PodF(const std::string& pod, double peak, double p90) {
  PodForecast f;
  f.pod = pod;
  f.peak = peak;
  f.p90 = p90;
  f.horizon_seconds = 1800;
  return f;
}

TEST(RangeForecasts, SplitByRecentShareTopSixteenPerPodAndTheRestSummed) {
  std::vector<int> ids;
  std::map<int, double> rate;
  for (int i = 0; i < 40; ++i) {
    ids.push_back(i);
    rate[i] = i == 7 ? 100 : 2.5;  // range 7 is hot
  }
  auto split = SplitPodForecast(PodF("kv-1", 400, 800), ids, rate);
  ASSERT_EQ(split.size(), 40u);
  const double total = 100 + 39 * 2.5;
  EXPECT_DOUBLE_EQ(split[7].p50, 400 * 100 / total);  // about half of the pod's load
  EXPECT_DOUBLE_EQ(split[7].p90, 800 * 100 / total);
  EXPECT_DOUBLE_EQ(split[0].p90, 800 * 2.5 / total);
  auto even = SplitPodForecast(PodF("kv-2", 40, 80), {1, 2}, {});
  EXPECT_DOUBLE_EQ(even[0].p90, 40);

  split.insert(split.end(), even.begin(), even.end());
  std::map<std::string, RangesRest> rest;
  Json arr = RangeForecastsToStatus(split, 16, &rest);
  ASSERT_EQ(arr.size(), 18u);
  EXPECT_EQ(arr[0]["pod"], "kv-1");
  EXPECT_EQ(arr[0]["range"], 7);
  EXPECT_NEAR(arr[0]["p90"].get<double>(), 800 * 100 / total, 1.0);
  EXPECT_EQ(arr[1]["range"], 0);    // ties by id
  EXPECT_EQ(arr[15]["range"], 15);  // 7, then 0..6 and 8..15
  EXPECT_EQ(arr[16]["pod"], "kv-2");
  EXPECT_EQ(rest.at("kv-1").count, 24);
  EXPECT_NEAR(rest.at("kv-1").p90, 24 * 800 * 2.5 / total, 1e-9);
  EXPECT_EQ(rest.at("kv-2").count, 0);
  Json fc = ForecastsToStatus({PodF("kv-1", 400, 800)}, &rest);
  EXPECT_EQ(fc[0]["rangesRest"]["count"], 24);
  EXPECT_NEAR(fc[0]["rangesRest"]["p50"].get<double>(), 24 * 400 * 2.5 / total, 0.5);
  EXPECT_NEAR(fc[0]["rangesRest"]["p90"].get<double>(), 24 * 800 * 2.5 / total, 1.0);
  EXPECT_FALSE(fc[0].contains("timeToCrossingSeconds"));
}

TEST(RangeForecasts, PublishedStatusFor4096RangesOver64PodsStaysSmall) {
  std::vector<PodForecast> pods;
  std::vector<RangeForecast> all;
  RangeTelemetryMap totals;
  for (int p = 0; p < 64; ++p) {
    PodForecast f = PodF("kv-" + std::to_string(p), 612.345, 798.765);
    f.p99 = 901.234;
    f.prob_exceed = 0.42;
    f.trusted = true;
    f.time_to_crossing_seconds = 840;
    pods.push_back(f);
    std::vector<int> ids;
    std::map<int, double> rate;
    for (int i = 0; i < 64; ++i) {
      ids.push_back(p * 64 + i);
      rate[p * 64 + i] = 1.0 + (i * 37 % 64) * 1.37;
    }
    for (auto rf : SplitPodForecast(f, ids, rate)) {
      rf.read_share = 0.8123;
      rf.size_bytes = 123456789;
      rf.keys = 1234567;
      all.push_back(rf);
    }
  }
  for (int i = 0; i < 4096; ++i) totals[i] = One(i, 1e9, 1e8, 12345).at(i);
  std::vector<int> listed;
  for (int i = 0; i < 64; ++i) listed.push_back(i * 61);
  std::map<std::string, RangesRest> rest;
  Json status = {{"rangeForecasts", RangeForecastsToStatus(all, kRangeForecastsPerPod, &rest)},
                 {"forecasts", ForecastsToStatus(pods, &rest)},
                 {"routerStats", RouterStatsToStatus(totals, listed, 8, 1764662400)}};
  const size_t bytes = Json{{"status", status}}.dump().size();
  std::cout << "[ size ] status for 4096 ranges over 64 pods: " << bytes << " bytes ("
            << status["rangeForecasts"].size() << " rangeForecasts, "
            << status["routerStats"]["ranges"].size() << " routerStats ranges)\n";
  EXPECT_EQ(status["rangeForecasts"].size(), 64u * 16);
  EXPECT_LT(bytes, 200u * 1024);
}

TEST(RangeSizes, RequestBodyAndAnswerFollowC4) {
  RoutingView v;
  v.bounds = {{3, {0, 1048575}}, {4, {1048576, 2097151}}};
  EXPECT_EQ(
      RangesRequestBody({3, 4, 5, 9999}, v),
      R"({"ranges":[{"end":1048575,"id":3,"start":0},{"end":2097151,"id":4,"start":1048576}]})");
  auto a = ParseRangesAnswer(
      R"({"ranges":[{"id":3,"keys":10,"bytes":5120}],"bytesExact":false,"sampledKeys":10,"sampleStride":1})");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->at(3).keys, 10);
  EXPECT_EQ(a->at(3).bytes, 5120);
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {"[]", "answer"},
           {R"({"ranges":{}})", "answer.ranges"},
           {R"({"ranges":[{"id":"3","keys":1,"bytes":1}]})", "answer.ranges[0].id"},
           {R"({"ranges":[{"id":5000,"keys":1,"bytes":1}]})", "answer.ranges[0].id"},
           {R"({"ranges":[{"id":3,"keys":-1,"bytes":1}]})", "answer.ranges[0].keys"},
           {R"({"ranges":[{"id":3,"keys":1}]})", "answer.ranges[0].bytes"}}) {
    auto r = ParseRangesAnswer(body);
    ASSERT_FALSE(r) << body;
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
  }
}

TEST(RouterPods, OnlyReadyMatchingPodsWithAnIp) {
  Json list = Json::parse(R"({"items":[
    {"metadata":{"name":"r1","labels":{"app":"kv-router"}},
     "status":{"podIP":"10.0.0.2","conditions":[{"type":"Ready","status":"True"}]}},
    {"metadata":{"name":"r0","labels":{"app":"kv-router"}},
     "status":{"podIP":"10.0.0.1","conditions":[{"type":"Ready","status":"True"}]}},
    {"metadata":{"name":"r2","labels":{"app":"kv-router"}},
     "status":{"podIP":"10.0.0.3","conditions":[{"type":"Ready","status":"False"}]}},
    {"metadata":{"name":"r3","labels":{"app":"kv-router"},"deletionTimestamp":"x"},
     "status":{"podIP":"10.0.0.4","conditions":[{"type":"Ready","status":"True"}]}},
    {"metadata":{"name":"r4","labels":{"app":"other"}},
     "status":{"podIP":"10.0.0.5","conditions":[{"type":"Ready","status":"True"}]}},
    {"metadata":{"name":"r5","labels":{"app":"kv-router"}},
     "status":{"conditions":[{"type":"Ready","status":"True"}]}}]})");
  auto sel = util::LabelSelector::Parse(Json{{"matchLabels", {{"app", "kv-router"}}}}, "s");
  ASSERT_TRUE(sel);
  auto r = ReadyRouters(list, *sel);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "r0");
  EXPECT_EQ(r[0].ip, "10.0.0.1");
  EXPECT_EQ(r[1].name, "r1");
}

constexpr int64_t kDay = 86400, kWeek = 7 * kDay;
double WeeklyLoad(int64_t t) {
  const double daily = 400 + 200 * std::sin(2 * M_PI * static_cast<double>(t % kDay) / kDay);
  return (t % kWeek) >= 5 * kDay ? 0.4 * daily : daily;
}

TEST(WeeklySeason, APodWithWeeksOfCoarseHistoryForecastsTheWeekend) {
  // 15-minute points for three weeks, then the last three days at 1 minute
  // (what the operator keeps); the weekend starts at `end`.
  const int64_t end = 100 * kWeek + 5 * kDay;
  SetState st;
  for (int64_t t = end - 21 * kDay; t < end - 3 * kDay; t += 900)
    st.AddPodUsage({"kv-0", WeeklyLoad(t), 0, true, false}, t);
  for (int64_t t = end - 3 * kDay; t < end; t += 60)
    st.AddPodUsage({"kv-0", WeeklyLoad(t), 0, true, false}, t);
  SetSettings set;
  set.capacity = 1000;
  PolicySettings policy;  // default: 1-minute step, 30-minute horizon, daily and weekly
  policy.horizon_seconds = 3 * 3600;
  std::string err;
  auto f = st.ForecastPod("kv-0", set, policy, end, true, &err);
  ASSERT_TRUE(f) << err;
  EXPECT_NE(f->model.find("weekly-profile"), std::string::npos) << f->model;
  // The weekend's first 3 hours are near 0.4 x (400 + 200 sin): far below
  // the weekday level the daily season alone carries over. Mean absolute
  // error of the fitted median path (the load steps down at midnight; the
  // profile's 15-minute slots blur that step over the first minutes).
  auto mae = [&](const PodSeries& ps) {
    double sum = 0;
    for (size_t k = 0; k < 180; ++k)
      sum += std::fabs(ps.cpu.fit->Quantile(0.5, k) - WeeklyLoad(end + 60 * int64_t(k) + 30));
    return sum / 180;
  };
  const double weekly_mae = mae(st.pods().at("kv-0"));
  policy.seasons_seconds = {86400};
  auto daily = st.ForecastPod("kv-0", set, policy, end, true, &err);
  ASSERT_TRUE(daily) << err;
  EXPECT_EQ(daily->model.find("weekly-profile"), std::string::npos);
  const double daily_mae = mae(st.pods().at("kv-0"));
  std::cout << "[ weekly ] pod forecast MAE over 3 h: daily season only " << daily_mae
            << ", with the weekly profile " << weekly_mae << "\n";
  EXPECT_LT(weekly_mae, 0.3 * daily_mae);
  EXPECT_LT(weekly_mae, 40);  // the weekend level is about 190
  // Time to crossing: nothing near 80% of 1000 within the horizon.
  EXPECT_FALSE(f->time_to_crossing_seconds.has_value());
}

TEST(TimeToCrossing, PublishedByForecastPodForARisingLoad) {
  SetState st;
  const int64_t end = 1764662400;
  for (int i = 0; i < 600; ++i)
    st.AddPodUsage({"kv-0", 200.0 + i, 0, true, false}, end - 60 * (600 - i));
  SetSettings set;
  set.capacity = 1000;
  PolicySettings policy;
  policy.seasons_seconds.clear();
  policy.max_utilization = 0.85;  // 850: about 50 minutes ahead at +1/min
  policy.horizon_seconds = 4 * 3600;
  std::string err;
  auto f = st.ForecastPod("kv-0", set, policy, end, true, &err);
  ASSERT_TRUE(f) << err;
  ASSERT_TRUE(f->time_to_crossing_seconds.has_value()) << f->model << " p90 " << f->p90;
  EXPECT_GT(*f->time_to_crossing_seconds, 5 * 60);  // the p90 path leads the median
  EXPECT_LE(*f->time_to_crossing_seconds, 60 * 60);
  Json fc = ForecastsToStatus({*f});
  EXPECT_EQ(fc[0]["timeToCrossingSeconds"], *f->time_to_crossing_seconds);
}

}  // namespace
}  // namespace shardcast::forecast
