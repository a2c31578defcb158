#include "controllers/forecast/state.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shardcast::forecast {
namespace {

constexpr int64_t kT0 = 1767225600;  // 2026-01-01T00:00:00Z

TEST(PodMetrics, SumsContainersAndSkipsGarbage) {
  Json list = Json::parse(R"({"kind":"PodMetricsList","items":[
    {"metadata":{"name":"kv-0"},"containers":[
      {"name":"a","usage":{"cpu":"200m","memory":"64Mi"}},
      {"name":"b","usage":{"cpu":"100000000n","memory":"1Mi"}}]},
    {"metadata":{"name":"kv-1"},"containers":[
      {"name":"a","usage":{"cpu":"lots","memory":"32Mi"}},
      {"name":"b","usage":{"cpu":"50m"}}]},
    {"metadata":{"name":"kv-2"},"containers":[{"name":"a","usage":{"cpu":7}}]},
    "junk",
    {"containers":[]}]})");
  std::vector<std::string> errors;
  auto usage = ParsePodMetricsList(list, &errors);
  ASSERT_EQ(usage.size(), 3u);
  EXPECT_EQ(usage[0].pod, "kv-0");
  EXPECT_NEAR(usage[0].cpu_millis, 300, 1e-9);
  EXPECT_DOUBLE_EQ(usage[0].mem_bytes, 65.0 * 1024 * 1024);
  EXPECT_NEAR(usage[1].cpu_millis, 50, 1e-9);  // the garbage container is skipped
  EXPECT_TRUE(usage[1].has_cpu);
  EXPECT_FALSE(usage[2].has_cpu);
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_NE(errors[0].find("PodMetrics kv-1.containers[0].usage.cpu"), std::string::npos)
      << errors[0];
  EXPECT_NE(errors[1].find("kv-2"), std::string::npos) << errors[1];
  // Not a list at all: an error, no crash.
  errors.clear();
  EXPECT_TRUE(ParsePodMetricsList(Json("nope"), &errors).empty());
  EXPECT_EQ(errors.size(), 1u);
}

TEST(RangeCounters, ParsesAndRejectsBadLabels) {
  std::vector<std::string> errors;
  auto c = ParseRangeCounters(
      "# TYPE shardcast_range_requests_total counter\n"
      "shardcast_range_requests_total{range=\"0\",method=\"get\"} 100\n"
      "shardcast_range_requests_total{range=\"0\",method=\"put\"} 20\n"
      "shardcast_range_requests_total{range=\"7\"} 5\n"
      "shardcast_range_requests_total{range=\"x\"} 5\n"
      "shardcast_range_requests_total 9\n"
      "other_metric{range=\"1\"} 1\n"
      "this is { not prometheus\n",
      &errors);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_DOUBLE_EQ(c[0], 120);
  EXPECT_DOUBLE_EQ(c[7], 5);
  EXPECT_EQ(errors.size(), 3u);
}

TEST(ForecastSampling, UsageGoesIntoPerPodSeries) {
  SetState st;
  for (int i = 0; i < 10; ++i) {
    PodUsage u{"kv-0", 100.0 + i, 1e6, true, true};
    st.AddPodUsage(u, kT0 + 60 * i);
  }
  EXPECT_EQ(st.samples(), 10u);
  auto s = st.pods().at("kv-0").cpu.hist.Series(0);
  ASSERT_FALSE(s.values.empty());
  EXPECT_EQ(s.start + static_cast<int64_t>(s.values.size() - 1) * s.step, kT0 + 540);
  EXPECT_DOUBLE_EQ(s.values.back(), 109);
  EXPECT_DOUBLE_EQ(s.values[s.values.size() - 10], 100);
  EXPECT_DOUBLE_EQ(st.pods().at("kv-0").mem.hist.Series(0).values.back(), 1e6);
  st.RetainPods({"kv-1"});
  EXPECT_TRUE(st.pods().empty());
}

TEST(ForecastSampling, CounterRatesWithResets) {
  SetState st;
  EXPECT_TRUE(st.CounterRates("kv-0", {{0, 1000}, {1, 50}}, kT0).empty());  // first scrape
  auto r = st.CounterRates("kv-0", {{0, 1600}, {1, 50}}, kT0 + 60);
  EXPECT_DOUBLE_EQ(r.at(0), 10);
  EXPECT_DOUBLE_EQ(r.at(1), 0);
  // The pod restarted: its counter dropped to 120; the increase is 120.
  r = st.CounterRates("kv-0", {{0, 120}}, kT0 + 120);
  EXPECT_DOUBLE_EQ(r.at(0), 2);
  // Another pod's counters are separate.
  EXPECT_TRUE(st.CounterRates("kv-1", {{0, 5}}, kT0 + 120).empty());
  st.AddRates({{0, 2.0}}, {{"kv-0", 2.0}}, kT0 + 120);
  EXPECT_DOUBLE_EQ(st.ranges().at(0).hist.Series(0).values.back(), 2.0);
  EXPECT_DOUBLE_EQ(st.pods().at("kv-0").rps.hist.Series(0).values.back(), 2.0);
}

SetState Noisy(double level, double noise, int n, int64_t step = 60, unsigned seed = 1) {
  SetState st;
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0, noise);
  for (int i = 0; i < n; ++i) {
    st.AddPodUsage(PodUsage{"kv-0", std::max(0.0, level + d(rng)), 0, true, false}, kT0 + step * i);
  }
  return st;
}

SetSettings Set(double capacity) {
  SetSettings s;
  s.ns = "ns";
  s.name = "kv";
  s.capacity = capacity;
  return s;
}

TEST(ForecastPod, ProbExceedFollowsCapacity) {
  SetState st = Noisy(700, 20, 300);
  PolicySettings pol;  // 1m step, 30m horizon, threshold 0.8 x capacity
  int64_t now = kT0 + 300 * 60;
  std::string err;
  auto roomy = st.ForecastPod("kv-0", Set(2000), pol, now, true, &err);  // threshold 1600
  ASSERT_TRUE(roomy) << err;
  EXPECT_NEAR(roomy->peak, 700, 60);
  EXPECT_GE(roomy->p90, roomy->peak);
  EXPECT_GE(roomy->p99, roomy->p90);
  EXPECT_EQ(roomy->horizon_seconds, 1800);
  EXPECT_LT(roomy->prob_exceed, 0.05);
  auto tight = st.ForecastPod("kv-0", Set(500), pol, now, true, &err);  // threshold 400
  ASSERT_TRUE(tight);
  EXPECT_GT(tight->prob_exceed, 0.95);
  auto edge = st.ForecastPod("kv-0", Set(875), pol, now, true, &err);  // threshold 700 = the level
  ASSERT_TRUE(edge);
  EXPECT_GT(edge->prob_exceed, roomy->prob_exceed);
  EXPECT_LT(edge->prob_exceed, tight->prob_exceed);
  // maxUtilization from a policy moves the threshold.
  pol.max_utilization = 0.3;  // 2000 x 0.3 = 600 < 700
  auto strict = st.ForecastPod("kv-0", Set(2000), pol, now, true, &err);
  ASSERT_TRUE(strict);
  EXPECT_GT(strict->prob_exceed, 0.9);
  // Trust comes from the history at once (backtest of the newest 30 steps);
  // see HistoryEarnsOrFailsTrustAtOnce.
  EXPECT_TRUE(strict->trusted);
}

TEST(ForecastPod, HistoryEarnsOrFailsTrustAtOnce) {
  PolicySettings pol;
  std::string err;
  // A steady series with enough history: trusted at its first forecast.
  SetState steady = Noisy(300, 10, 300);
  auto a = steady.ForecastPod("kv-0", Set(1000), pol, kT0 + 300 * 60, false, &err);
  ASSERT_TRUE(a) << err;
  EXPECT_TRUE(a->trusted);
  EXPECT_TRUE(a->trust_changed);  // the first verdict is news (logged)
  EXPECT_EQ(a->verdict.rfind("trusted:", 0), 0u) << a->verdict;
  auto again = steady.ForecastPod("kv-0", Set(1000), pol, kT0 + 300 * 60, false, &err);
  ASSERT_TRUE(again) << err;
  EXPECT_FALSE(again->trust_changed);  // the same verdict is not
  // Too little history to hold 30 steps out: warming up, as before.
  SetState young = Noisy(300, 10, 50);
  auto b = young.ForecastPod("kv-0", Set(1000), pol, kT0 + 50 * 60, false, &err);
  ASSERT_TRUE(b) << err;
  EXPECT_FALSE(b->trusted);
  // History the model cannot forecast (the newest 30 steps jump between 0
  // and 2000 at random after a calm past): not trusted.
  SetState wild = Noisy(300, 10, 270);
  std::mt19937 rng(9);
  for (int i = 270; i < 300; ++i) {
    wild.AddPodUsage(PodUsage{"kv-0", (rng() % 2) ? 2000.0 : 0.0, 0, true, false}, kT0 + 60 * i);
  }
  auto c = wild.ForecastPod("kv-0", Set(1000), pol, kT0 + 300 * 60, false, &err);
  ASSERT_TRUE(c) << err;
  EXPECT_FALSE(c->trusted);
}

// Live calibration: when live errors outgrow the bands fitted on history,
// misses widen them (band_scale up); when the bands cover everything they
// narrow, down to half.
TEST(ForecastPod, LiveMissesWidenTheBandsAndHitsNarrowThem) {
  PolicySettings pol;
  std::string err;
  auto live = [&](double noise, unsigned seed) {
    SetState st = Noisy(500, 5, 300);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0, noise);
    int64_t t = kT0 + 300 * 60;
    auto first = st.ForecastPod("kv-0", Set(1000), pol, t, false, &err);
    EXPECT_TRUE(first) << err;
    std::optional<PodForecast> last;
    for (int i = 0; i < 40; ++i, t += 60) {
      st.AddPodUsage(PodUsage{"kv-0", std::max(0.0, 500 + d(rng)), 0, true, false}, t);
      last = st.ForecastPod("kv-0", Set(1000), pol, t + 60, false, &err);
      EXPECT_TRUE(last) << err;
    }
    return std::make_pair(*first, *last);
  };
  auto [calm0, calm] = live(5, 4);
  EXPECT_DOUBLE_EQ(calm0.band_scale, 1.0);
  EXPECT_LT(calm.band_scale, 1.0);   // every step covered: narrower
  EXPECT_GE(calm.band_scale, 0.5);   // but never below half
  auto [wild0, wild] = live(80, 5);  // live noise 16x the history's
  EXPECT_GT(wild.band_scale, 2.0);
  EXPECT_LE(wild.band_scale, 4.0);
  EXPECT_GT(wild.p90 - wild.peak, 2.0 * (wild0.p90 - wild0.peak));
}

TEST(RoutingOwners, RangesByOwnerRejectsOwnerlessRangesAndNamesBadFields) {
  // docs/routing.md: every range has a non-empty owner; a document with an
  // ownerless range is invalid as a whole (it used to be skipped).
  auto ownerless = RangesByOwner(
      R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":4,"ranges":[
      {"id":3,"start":0,"end":99,"owner":"kv-1","endpoint":"","state":"stable"},{"id":0,"start":100,"end":199,"owner":"kv-0","endpoint":"","state":"stable"},
      {"id":1,"start":200,"end":299,"owner":"kv-1","endpoint":"","state":"stable"},{"id":2,"start":300,"end":399,"endpoint":"","state":"stable"},
      {"id":5,"start":400,"end":4294967295,"owner":"","endpoint":"","state":"stable"}]})");
  ASSERT_FALSE(ownerless);
  EXPECT_NE(ownerless.error().message.find("].owner"), std::string::npos)
      << ownerless.error().message;
  auto r = RangesByOwner(
      R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":4,"ranges":[
      {"id":3,"start":0,"end":99,"owner":"kv-1","endpoint":"","state":"stable"},{"id":0,"start":100,"end":199,"owner":"kv-0","endpoint":"","state":"stable"},
      {"id":1,"start":200,"end":4294967295,"owner":"kv-1","endpoint":"","state":"stable"}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->at("kv-0"), (std::vector<int>{0}));
  EXPECT_EQ(r->at("kv-1"), (std::vector<int>{1, 3}));  // sorted
  EXPECT_EQ(r->size(), 2u);
  auto bad = RangesByOwner("{not json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("routing.json"), std::string::npos);
  auto no_list = RangesByOwner(
      R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":4,"ranges":{}})");
  ASSERT_FALSE(no_list);
  EXPECT_NE(no_list.error().message.find("ranges"), std::string::npos);
  auto bad_id = RangesByOwner(
      R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":4,"ranges":[
      {"id":"x","start":0,"end":4294967295,"owner":"kv-0","endpoint":"","state":"stable"}]})");
  ASSERT_FALSE(bad_id);
  EXPECT_NE(bad_id.error().message.find("ranges[0].id"), std::string::npos)
      << bad_id.error().message;
}

// Three days of a daily-seasonal hot range 0 and a flat range 1 (requests/s
// = 2 x millicores), both served by kv-0 until `now`, an hour before the
// daily peak; kv-1 has one sample of its own.
constexpr int64_t kDay = 86400, kRangeStep = 300;
constexpr int64_t kRangesNow = kT0 + 3 * kDay + 5 * 3600;
SetState TwoRangesOnKv0(double cpu_per_request = 0.5) {
  SetState st;
  std::mt19937 rng(11);
  std::normal_distribution<double> d(0, 1);
  for (int64_t t = kT0; t < kRangesNow; t += kRangeStep) {
    const double l0 =
        400 + 300 * std::sin(2 * M_PI * static_cast<double>(t - kT0) / kDay) + 10 * d(rng);
    const double l1 = 50 + 2 * d(rng);
    st.AddRates({{0, 2 * l0}, {1, 2 * l1}}, {{"kv-0", 2 * (l0 + l1)}}, t);
    st.AddPodUsage(PodUsage{"kv-0", 2 * cpu_per_request * (l0 + l1), 0, true, false}, t);
  }
  st.AddPodUsage(PodUsage{"kv-1", 5, 0, true, false}, kRangesNow - kRangeStep);
  return st;
}

PolicySettings RangesPolicy() {
  PolicySettings pol;
  pol.step_seconds = kRangeStep;
  pol.horizon_seconds = 3600;
  pol.seasons_seconds = {kDay};
  return pol;
}

// Range 0 moves from kv-0 to kv-1.
TEST(ForecastPod, ComposedFromTheRangesThePodOwnsNow) {
  SetState st = TwoRangesOnKv0();
  const int64_t now = kRangesNow;
  PolicySettings pol = RangesPolicy();
  std::string err;
  const std::vector<int> kv0 = {1}, kv1 = {0};
  auto own = st.ForecastPod("kv-0", Set(1000), pol, now, false, &err);
  ASSERT_TRUE(own) << err;
  EXPECT_EQ(own->source, "pod");
  EXPECT_GT(own->peak, 650);  // its own history still carries range 0
  auto k0 = st.ForecastPod("kv-0", Set(1000), pol, now, false, &err, &kv0);
  ASSERT_TRUE(k0) << err;
  EXPECT_EQ(k0->source, "ranges");
  EXPECT_LT(k0->peak, 80);
  EXPECT_LT(k0->prob_exceed, 0.01);
  auto k1 = st.ForecastPod("kv-1", Set(1000), pol, now, false, &err, &kv1);
  ASSERT_TRUE(k1) << err;
  EXPECT_EQ(k1->source, "ranges");
  EXPECT_GT(k1->peak, 640);  // the daily peak of range 0, ahead of it
  EXPECT_LT(k1->peak, 760);
  EXPECT_TRUE(k1->trusted) << k1->verdict;  // judged on the ranges' history at once
  EXPECT_GT(PolicySettings().max_utilization * 1000, k1->peak);
  // Capacity 700m: the moved range alone overloads kv-1 within the hour.
  auto k1small = st.ForecastPod("kv-1", Set(700), pol, now, false, &err, &kv1);
  ASSERT_TRUE(k1small);
  EXPECT_GT(k1small->prob_exceed, 0.5);
  // A range without history: back to the pod's own series.
  const std::vector<int> unknown = {0, 9};
  auto fallback = st.ForecastPod("kv-1", Set(1000), pol, now, false, &err, &unknown);
  ASSERT_TRUE(fallback);
  EXPECT_EQ(fallback->source, "pod");
  EXPECT_LT(fallback->peak, 50);
}

TEST(ForecastPod, ComposedIsConvertedAtTheOutputAndRejudgedWhenTheRangesChange) {
  PolicySettings pol = RangesPolicy();
  std::string err;
  const std::vector<int> both = {0, 1}, hot = {0};
  // Twice the CPU per request: the same composed series, twice the load.
  SetState a = TwoRangesOnKv0(0.5), b = TwoRangesOnKv0(1.0);
  auto fa = a.ForecastPod("kv-0", Set(1000), pol, kRangesNow, false, &err, &both);
  auto fb = b.ForecastPod("kv-0", Set(1000), pol, kRangesNow, false, &err, &both);
  ASSERT_TRUE(fa && fb) << err;
  EXPECT_EQ(fa->source, "ranges");
  EXPECT_NEAR(fb->peak, 2 * fa->peak, 0.02 * fb->peak);
  EXPECT_LT(fa->prob_exceed, 0.05);  // ~750m of 800m
  EXPECT_GT(fb->prob_exceed, 0.95);  // ~1500m of 800m
  EXPECT_TRUE(fa->trust_changed);    // first verdict
  auto again = a.ForecastPod("kv-0", Set(1000), pol, kRangesNow, false, &err, &both);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->trust_changed);
  // Another set of ranges: a fresh series, judged on its history at once.
  auto other = a.ForecastPod("kv-0", Set(1000), pol, kRangesNow, false, &err, &hot);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->source, "ranges");
  EXPECT_TRUE(other->refitted);
  EXPECT_NE(other->verdict.find("n=30"), std::string::npos) << other->verdict;
  EXPECT_LT(other->peak, fa->peak - 40);  // range 1's ~50m gone
}

TEST(ForecastPod, StaleOrForgottenRangesFallBackToThePodSeries) {
  PolicySettings pol = RangesPolicy();
  std::string err;
  const std::vector<int> both = {0, 1};
  // Two hours without a range sample (the endpoint stopped answering).
  SetState st = TwoRangesOnKv0();
  const int64_t later = kRangesNow + 2 * 3600;
  st.AddPodUsage(PodUsage{"kv-0", 400, 0, true, false}, later - 60);
  auto f = st.ForecastPod("kv-0", Set(1000), pol, later, false, &err, &both);
  ASSERT_TRUE(f) << err;
  EXPECT_EQ(f->source, "pod");
  EXPECT_EQ(f->fallback, "range 0 has no recent sample");
  // A range merged away is forgotten: an id reused by a later split starts
  // without the old keys' history.
  SetState m = TwoRangesOnKv0();
  m.RetainRanges({1});
  EXPECT_EQ(m.ranges().count(0), 0u);
  auto g = m.ForecastPod("kv-0", Set(1000), pol, kRangesNow, false, &err, &both);
  ASSERT_TRUE(g) << err;
  EXPECT_EQ(g->source, "pod");
  EXPECT_EQ(g->fallback, "range 0 has no series");
}

// CPU per request pairs each CPU sample with the request rates of its own
// minute. The newest rates come every few seconds, a CPU sample once per
// metrics resolution: dividing the newest of each rescaled every composed
// forecast whenever the rates had moved since the CPU sample (the jumps of
// docs/benchmarks.md, run H).
TEST(SetState, CpuPerRequestPairsSamplesOfTheSameMoment) {
  SetState st;
  int64_t t = kT0;
  // 0.5 millicores per request/s, a CPU sample every 20 minutes and rates
  // every minute; the load rises 100 -> 280 req/s.
  for (int i = 0; i <= 60; ++i, t += 60) {
    const double rate = 100 + 3.0 * i;
    st.AddRates({{0, rate}}, {{"kv-0", rate}}, t);
    if (i % 20 == 0) st.AddPodUsage(PodUsage{"kv-0", 0.5 * rate, 0, true, false}, t);
  }
  const int64_t now = t - 60;
  ASSERT_TRUE(st.CpuPerRequest(now).has_value());
  EXPECT_NEAR(*st.CpuPerRequest(now), 0.5, 1e-6);
  // The rates drop for a moment (a quiet minute at the routers) after the
  // newest CPU sample: the newest of each would read 0.5 x 280 / 140 = 1.0.
  st.AddRates({{0, 140}}, {{"kv-0", 140}}, t);
  EXPECT_NEAR(*st.CpuPerRequest(t), 0.5, 1e-6);
  // Outside the window no pair is left: the newest samples are used.
  const int64_t much_later = t + 3 * 3600;
  st.AddRates({{0, 200}}, {{"kv-0", 200}}, much_later);
  EXPECT_NEAR(*st.CpuPerRequest(much_later), 0.5 * 280 / 200, 1e-6);
}

TEST(ForecastPod, ComposedNeedsRequestRatesToConvertToCpu) {
  SetState st;
  int64_t t = kT0;
  for (int i = 0; i < 600; ++i, t += 300)
    st.AddRates({{0, 100}}, {}, t);  // no pod rates: no CPU per request
  st.AddPodUsage(PodUsage{"kv-0", 40, 0, true, false}, t);
  EXPECT_FALSE(st.CpuPerRequest(t));
  PolicySettings pol;
  pol.step_seconds = 300;
  std::string err;
  const std::vector<int> ids = {0};
  auto f = st.ForecastPod("kv-0", Set(1000), pol, t + 300, false, &err, &ids);
  ASSERT_TRUE(f) << err;
  EXPECT_EQ(f->source, "pod");
  EXPECT_NE(f->fallback.find("no CPU per request"), std::string::npos) << f->fallback;
  // Capacity in requests/s: the ranges' rates are the load as they are.
  SetSettings rps = Set(1000);
  rps.metric = CapacityMetric::kRequestsPerSecond;
  auto g = st.ForecastPod("kv-0", rps, pol, t + 300, false, &err, &ids);
  ASSERT_TRUE(g) << err;
  EXPECT_EQ(g->source, "ranges");
  EXPECT_TRUE(g->fallback.empty());
  EXPECT_NEAR(g->peak, 100, 5);
}

TEST(ForecastPod, RefitsOnScheduleAndReanchorsInBetween) {
  StateOptions o;
  o.refit_interval_seconds = 600;
  SetState st(o);
  std::mt19937 rng(3);
  std::normal_distribution<double> d(0, 10);
  int64_t t = kT0;
  for (int i = 0; i < 200; ++i, t += 60) st.AddPodUsage({"kv-0", 300 + d(rng), 0, true, false}, t);
  PolicySettings pol;
  std::string err;
  auto f1 = st.ForecastPod("kv-0", Set(1000), pol, t, false, &err);
  ASSERT_TRUE(f1) << err;
  EXPECT_TRUE(f1->refitted);
  // The load steps up to 600; between refits the cached fit is re-anchored.
  for (int i = 0; i < 3; ++i, t += 60) st.AddPodUsage({"kv-0", 600, 0, true, false}, t);
  auto f2 = st.ForecastPod("kv-0", Set(1000), pol, t, false, &err);
  ASSERT_TRUE(f2);
  EXPECT_FALSE(f2->refitted);
  EXPECT_GT(f2->peak, f1->peak + 100);  // level correction moved it up
  t += 600;
  st.AddPodUsage({"kv-0", 600, 0, true, false}, t);
  auto f3 = st.ForecastPod("kv-0", Set(1000), pol, t, false, &err);
  ASSERT_TRUE(f3);
  EXPECT_TRUE(f3->refitted);
}

// A refit leaves out the bucket still filling and takes its level through
// the level correction, as the forecasts between refits do: a refit in the
// first minutes of a bucket after a step up forecasts the new level, not a
// fit that saw one point of it.
TEST(ForecastPod, ARefitStartsFromTheLevelOfTheBucketStillFilling) {
  StateOptions o;
  o.refit_interval_seconds = 600;
  SetState st(o);
  std::mt19937 rng(5);
  std::normal_distribution<double> d(0, 10);
  PolicySettings pol;
  pol.step_seconds = 1200;
  pol.horizon_seconds = 3600;
  const int64_t bucket = kT0 + 1200 * 200;  // a bucket start
  for (int64_t t = kT0; t < bucket; t += 120)
    st.AddPodUsage({"kv-0", 300 + d(rng), 0, true, false}, t);
  // Two samples of the new level, 3 minutes into the bucket.
  st.AddPodUsage({"kv-0", 600, 0, true, false}, bucket + 60);
  st.AddPodUsage({"kv-0", 600, 0, true, false}, bucket + 180);
  std::string err;
  auto f = st.ForecastPod("kv-0", Set(1000), pol, bucket + 200, true, &err);
  ASSERT_TRUE(f) << err;
  EXPECT_TRUE(f->refitted);
  EXPECT_NEAR(f->peak, 600, 40);
  // The next bucket: the complete one is fitted, the one filling corrects.
  for (int64_t t = bucket + 300; t < bucket + 1200; t += 120)
    st.AddPodUsage({"kv-0", 600, 0, true, false}, t);
  st.AddPodUsage({"kv-0", 600, 0, true, false}, bucket + 1260);
  auto g = st.ForecastPod("kv-0", Set(1000), pol, bucket + 1300, true, &err);
  ASSERT_TRUE(g) << err;
  EXPECT_NEAR(g->peak, 600, 40);
}

TEST(ForecastPod, EventsMultiplyThePeak) {
  SetState st = Noisy(300, 5, 200);
  int64_t now = kT0 + 200 * 60;
  PolicySettings pol;
  std::string err;
  auto base = st.ForecastPod("kv-0", Set(1000), pol, now, true, &err);
  ASSERT_TRUE(base) << err;
  pol.events.push_back({"bf", now + 600, 600, 3.0});
  auto ev = st.ForecastPod("kv-0", Set(1000), pol, now, true, &err);
  ASSERT_TRUE(ev) << err;
  EXPECT_NEAR(ev->peak, 3 * base->peak, 0.15 * base->peak);
  EXPECT_GT(ev->prob_exceed, 0.9);  // 900 > 800
  EXPECT_LT(base->prob_exceed, 0.05);
}

TEST(ForecastPod, AggregatesFinerHistoryToThePolicyStep) {
  StateOptions o;
  o.pod_resolutions = {{1, 600}};
  SetState st(o);
  for (int i = 0; i < 120; ++i) st.AddPodUsage({"kv-0", 300, 0, true, false}, kT0 + i);
  PolicySettings pol;  // 60 s step
  std::string err;
  auto f = st.ForecastPod("kv-0", Set(1000), pol, kT0 + 120, true, &err);
  ASSERT_TRUE(f) << err;
  EXPECT_NEAR(f->peak, 300, 1);
  EXPECT_EQ(f->horizon_seconds, 1800);
  EXPECT_FALSE(st.ForecastPod("nobody", Set(1000), pol, kT0, true, &err));
}

TEST(ForecastStatus, RoundsSoNoiseDoesNotChangeIt) {
  EXPECT_DOUBLE_EQ(RoundSig(304.2), 300);
  EXPECT_DOUBLE_EQ(RoundSig(0.01234), 0.012);
  EXPECT_DOUBLE_EQ(RoundSig(0), 0);
  EXPECT_DOUBLE_EQ(RoundSig(std::nan("")), 0);
  PodForecast a{"kv-1", 1800, 304.2, 351, 398.7, 0.0312, false, "", false};
  PodForecast b{"kv-0", 1800, 296.0, 349, 401.2, 0.0288, true, "", false};
  Json s1 = ForecastsToStatus({a, b});
  ASSERT_EQ(s1.size(), 2u);
  EXPECT_EQ(s1[0]["pod"], "kv-0");  // sorted by pod
  EXPECT_EQ(s1[1]["peak"], 300.0);
  EXPECT_EQ(s1[1]["probExceed"], 0.03);
  a.peak = 301.9;
  a.prob_exceed = 0.029;
  EXPECT_EQ(ForecastsToStatus({b, a}), s1);
  a.peak = 420;
  EXPECT_NE(ForecastsToStatus({b, a}), s1);
}

TEST(ForecastStatus, MaterialChange) {
  PodForecast a{"kv-0", 1800, 300, 350, 400, 0.03, false, "", false};
  Json base = ForecastsToStatus({a});
  auto with = [&](auto mutate) {
    PodForecast x = a;
    mutate(x);
    return ForecastsToStatus({x});
  };
  EXPECT_FALSE(MateriallyDifferent(base, base, 1000));
  EXPECT_FALSE(MateriallyDifferent(with([](PodForecast& x) { x.p90 = 370; }), base, 1000));  // +6%
  EXPECT_TRUE(MateriallyDifferent(with([](PodForecast& x) { x.peak = 360; }), base, 1000));  // +20%
  EXPECT_FALSE(MateriallyDifferent(with([](PodForecast& x) { x.prob_exceed = 0.06; }), base, 1000));
  EXPECT_TRUE(MateriallyDifferent(with([](PodForecast& x) { x.prob_exceed = 0.2; }), base, 1000));
  EXPECT_TRUE(MateriallyDifferent(with([](PodForecast& x) { x.trusted = true; }), base, 1000));
  EXPECT_TRUE(MateriallyDifferent(with([](PodForecast& x) { x.pod = "kv-1"; }), base, 1000));
  EXPECT_TRUE(MateriallyDifferent(Json::array(), base, 1000));
  EXPECT_TRUE(MateriallyDifferent(base, Json(), 1000));  // nothing written yet
  // Tiny loads: 2% of capacity is the floor of the tolerance.
  PodForecast tiny{"kv-0", 1800, 1, 2, 3, 0, false, "", false};
  PodForecast tiny2 = tiny;
  tiny2.peak = 12;
  EXPECT_FALSE(MateriallyDifferent(ForecastsToStatus({tiny}), ForecastsToStatus({tiny2}), 1000));
}

}  // namespace
}  // namespace shardcast::forecast
