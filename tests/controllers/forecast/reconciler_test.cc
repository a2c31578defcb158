// The reconciler over in-memory stores, a fake API transport, a fake clock
// and a fake metrics endpoint: which writes one round makes.
#include "controllers/forecast/reconciler.h"

#include <gtest/gtest.h>

#include <iostream>
#include <mutex>
#include <random>

#include "controllers/api/resources.h"
#include "tests/support/fake_http_getter.h"
#include "tests/support/fake_transport.h"

namespace shardcast::forecast {
namespace {

using namespace std::chrono_literals;

// The shared fake (tests/support); writes get resource versions and
// ConfigMaps written are read back.
struct FakeTransport : shardcast::testing::FakeTransport {
  FakeTransport() { stamp_writes = true; }
};

Json SetObj() {
  return Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"ShardSet",
    "metadata":{"name":"kv","namespace":"ns","uid":"set-uid","resourceVersion":"1"},
    "spec":{"capacity":{"metric":"CPU","cpuMillis":1000},"metrics":{"port":9090,"path":"/metrics"}}})");
}

Json Pod(const std::string& name, const std::string& ip, const std::string& role = "active") {
  return {{"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"labels", {{"shardcast.dev/shardset", "kv"}, {"shardcast.dev/role", role}}}}},
          {"status", {{"phase", "Running"}, {"podIP", ip}}}};
}

Json Metrics(double cpu0, double cpu1) {
  auto item = [](const std::string& n, double m) {
    return Json{{"metadata", {{"name", n}}},
                {"containers", Json::array({{{"name", "c"},
                                             {"usage",
                                              {{"cpu", std::to_string(static_cast<int>(m)) + "m"},
                                               {"memory", "10Mi"}}}}})}};
  };
  return {{"kind", "PodMetricsList"},
          {"items", Json::array({item("kv-0", cpu0), item("kv-1", cpu1), item("kv-2", 5)})}};
}

class ForecastReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport = std::make_shared<FakeTransport>();
    client = std::make_shared<kube::Client>(transport);
    sets.Upsert(std::make_shared<Json>(SetObj()));
    pods.Upsert(std::make_shared<Json>(Pod("kv-0", "10.0.0.1")));
    pods.Upsert(std::make_shared<Json>(Pod("kv-1", "10.0.0.2")));
    pods.Upsert(std::make_shared<Json>(Pod("kv-2", "10.0.0.3", "warm")));
    metrics_path = kube::Client::Path(kube::resources::kPodMetrics, "ns");
    transport->gets[metrics_path] = Metrics(300, 500);
    http.bodies["10.0.0.1"] = "shardcast_range_requests_total{range=\"0\"} 1000\n";
    auto m = RegisterForecastMetrics(registry);
    ASSERT_TRUE(m);
    ReconcilerDeps d;
    d.client = client;
    d.shardsets = &sets;
    d.pods = &pods;
    d.policies = &policies;
    d.configmaps = &configmaps;
    d.http = &http;
    d.clock = &clock;
    d.metrics = *m;
    ControllerOptions o;
    o.sample_period = 60s;
    o.persist_interval = 300s;
    rec = std::make_unique<ForecastReconciler>(d, o);
  }
  // Reflects a status patch into the cached ShardSet, as the informer would.
  void ApplyStatusPatches() {
    auto patches = transport->by("PATCH", "/shardsets/kv/status");
    if (patches.empty()) return;
    Json obj = *sets.get("ns/kv");
    obj.merge_patch(Json::parse(patches.back().body));
    sets.Upsert(std::make_shared<Json>(obj));
  }
  void Round() {
    auto r = rec->Reconcile("ns/kv");
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->kind, ctrl::Action::Kind::kRequeueAfter);
    ApplyStatusPatches();
  }

  std::shared_ptr<FakeTransport> transport;
  std::shared_ptr<kube::Client> client;
  kube::Store sets, pods, policies, configmaps;
  shardcast::testing::FakeHttpGetter http;
  runtime::FakeClock clock;
  runtime::Registry registry;
  std::string metrics_path;
  std::unique_ptr<ForecastReconciler> rec;
};

TEST_F(ForecastReconcilerTest, StatusIsPatchedOnlyOnMaterialChange) {
  // Five hours of history (as if saved before a restart) so the forecast is
  // a fitted model, not the short-series fallback.
  {
    SetState seed;
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0, 5);
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock.SystemNow().time_since_epoch())
            .count();
    for (int i = 300; i > 0; --i) {
      seed.AddPodUsage({"kv-0", 300 + noise(rng), 0, true, false}, now - 60 * i);
      seed.AddPodUsage({"kv-1", 500 + noise(rng), 0, true, false}, now - 60 * i);
    }
    transport->gets[kube::Client::Path(kube::resources::kConfigMaps, "ns", "kv-history")] =
        BuildHistoryConfigMap(SetObj(), seed, now);
  }
  Round();
  auto patches = transport->by("PATCH", "/shardsets/kv/status");
  ASSERT_EQ(patches.size(), 1u);
  Json body = Json::parse(patches[0].body);
  Json fc = body["status"]["forecasts"];
  ASSERT_EQ(fc.size(), 2u) << fc.dump();  // the warm pod kv-2 is not forecast
  EXPECT_EQ(fc[0]["pod"], "kv-0");
  EXPECT_EQ(fc[0]["peak"], 300.0);
  EXPECT_EQ(fc[1]["peak"], 500.0);
  EXPECT_EQ(fc[0]["horizonSeconds"], 1800);
  EXPECT_EQ(body.size(), 1u);  // only status.forecasts
  EXPECT_EQ(body["status"].size(), 1u);

  // Same load, slightly noisy: no writes for many rounds.
  for (int i = 0; i < 8; ++i) {
    transport->gets[metrics_path] = Metrics(300 + (i % 2) * 6, 500 - (i % 2) * 8);
    clock.advance(60s);
    Round();
  }
  EXPECT_EQ(transport->by("PATCH", "/status").size(), 1u);
  // Before the sample period nothing is sampled at all.
  size_t lists = transport->by("GET", "/pods").size();
  clock.advance(10s);
  Round();
  EXPECT_EQ(transport->by("GET", "/pods").size(), lists);

  // A material change is written.
  transport->gets[metrics_path] = Metrics(900, 500);
  for (int i = 0; i < 3; ++i) {
    clock.advance(60s);
    Round();
  }
  patches = transport->by("PATCH", "/shardsets/kv/status");
  ASSERT_GE(patches.size(), 2u);
  Json last = Json::parse(patches.back().body)["status"]["forecasts"];
  EXPECT_GT(last[0]["peak"].get<double>(), 600);
  EXPECT_GT(last[0]["probExceed"].get<double>(), 0.5);  // 900 > 0.8 x 1000
}

TEST_F(ForecastReconcilerTest, MetricsAndRangeScrapes) {
  Round();
  http.bodies["10.0.0.1"] = "shardcast_range_requests_total{range=\"0\"} 1600\n";
  clock.advance(60s);
  Round();
  std::string text = registry.render();
  EXPECT_NE(text.find("shardcast_observed_cpu_millicores{shardset=\"ns/kv\",pod=\"kv-0\"} 300"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("shardcast_forecast_peak{shardset=\"ns/kv\",pod=\"kv-1\",quantile=\"0.5\"} 500"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("shardcast_forecast_prob_exceed{shardset=\"ns/kv\",pod=\"kv-0\"}"),
            std::string::npos);
  EXPECT_NE(text.find("shardcast_forecast_trusted{shardset=\"ns/kv\",pod=\"kv-0\"} 0"),
            std::string::npos);
  // kv-1 (10.0.0.2) refused: a gap, not an error; the warm pod is scraped too.
  EXPECT_EQ(http.gets.size(), 6u);
  EXPECT_EQ(http.gets[0], "10.0.0.1:9090/metrics");
  // (1600 - 1000) / 60 s = 10 req/s for range 0.
  // (Range series are kept at 15 min resolution: the bucket holds the mean.)
  // The reconciler exposes its state only through writes; check the history map.
  http.bodies["10.0.0.1"] = "shardcast_range_requests_total{range=\"0\"} 4600\n";
  clock.advance(300s);
  Round();
  auto cms = transport->by("POST", "/configmaps");
  ASSERT_EQ(cms.size(), 1u);
  Json cm = Json::parse(cms[0].body);
  EXPECT_EQ(cm["metadata"]["name"], "kv-history");
  EXPECT_TRUE(cm["data"].contains("range.0"));
  EXPECT_TRUE(cm["data"].contains("rps.kv-0"));
  SetState back;
  std::vector<std::string> errors;
  (void)LoadHistoryConfigMap(cm, back, &errors);
  EXPECT_NEAR(back.ranges().at(0).hist.Series(0).values.back(), 10, 0.01);

  // The ShardSet is deleted: its metrics go away.
  sets.erase("ns/kv");
  auto r = rec->Reconcile("ns/kv");
  ASSERT_TRUE(r);
  EXPECT_EQ(registry.render().find("ns/kv"), std::string::npos);
}

TEST_F(ForecastReconcilerTest, HistoryIsSavedWithPreconditionsAndReloaded) {
  Round();
  clock.advance(300s);
  Round();
  ASSERT_EQ(transport->by("POST", "/configmaps").size(), 1u);
  clock.advance(300s);
  Round();
  auto puts = transport->by("PUT", "/configmaps/kv-history");
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_FALSE(Json::parse(puts[0].body)["metadata"]["resourceVersion"].get<std::string>().empty());

  // A fresh reconciler (operator restart) loads the map before sampling.
  ReconcilerDeps d;
  d.client = client;
  d.shardsets = &sets;
  d.pods = &pods;
  d.clock = &clock;
  ForecastReconciler second(d, ControllerOptions{});
  transport->gets.erase(metrics_path);  // metrics API down: a gap
  ASSERT_TRUE(second.Reconcile("ns/kv"));
  // cpu and mem of kv-0, kv-1 and the warm kv-2, rps of kv-0, range 0.
  EXPECT_EQ(second.stats().history_loads, 8u);
}

// Range 0 (1000 req/s) just moved from kv-0 to kv-1; kv-0 keeps range 1 (50
// req/s). Eight hours of range history and of kv-0's CPU (525m, both
// ranges) were saved; kv-1 has none. The routing ConfigMap says who owns
// what now, and the pods' forecasts follow it.
TEST_F(ForecastReconcilerTest, PodForecastsFollowTheRangesInTheRoutingConfigMap) {
  Json set = SetObj();
  set["spec"]["routing"] = {{"configMapName", "kv-routing"}};
  sets.Upsert(std::make_shared<Json>(set));
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock.SystemNow().time_since_epoch())
          .count();
  {
    SetState seed;
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(0, 1);
    for (int i = 8 * 12; i > 0; --i) {
      const int64_t t = now - 300 * i;
      const double r0 = 1000 + 10 * noise(rng), r1 = 50 + noise(rng);
      seed.AddRates({{0, r0}, {1, r1}}, {{"kv-0", r0 + r1}}, t);
      seed.AddPodUsage({"kv-0", (r0 + r1) / 2, 0, true, false}, t);
    }
    transport->gets[kube::Client::Path(kube::resources::kConfigMaps, "ns", "kv-history")] =
        BuildHistoryConfigMap(set, seed, now);
  }
  // The routing ConfigMap as the informer cache holds it.
  auto routing = [&](const std::string& doc) {
    configmaps.Upsert(
        std::make_shared<Json>(Json{{"metadata", {{"name", "kv-routing"}, {"namespace", "ns"}}},
                                    {"data", {{"routing.json", doc}}}}));
  };
  routing(
      R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":7,"ranges":[{"id":0,"start":0,"end":2147483647,"owner":"kv-1","endpoint":"","state":"stable"},
      {"id":1,"start":2147483648,"end":4294967295,"owner":"kv-0","endpoint":"","state":"stable"}]})");
  transport->gets[metrics_path] = Metrics(25, 500);
  double c0 = 0, c1 = 0;
  for (int i = 0; i < 3; ++i) {
    http.bodies["10.0.0.1"] =
        "shardcast_range_requests_total{range=\"1\"} " + std::to_string(c0) + "\n";
    http.bodies["10.0.0.2"] =
        "shardcast_range_requests_total{range=\"0\"} " + std::to_string(c1) + "\n";
    Round();
    clock.advance(60s);
    c0 += 50 * 60;
    c1 += 1000 * 60;
  }
  EXPECT_TRUE(transport->by("GET", "/configmaps/kv-routing").empty());  // read from the cache
  auto patches = transport->by("PATCH", "/shardsets/kv/status");
  ASSERT_FALSE(patches.empty());
  Json fc = Json::parse(patches.back().body)["status"]["forecasts"];
  ASSERT_EQ(fc.size(), 2u) << fc.dump();
  // kv-0: range 1 only (25m), not the 525m of its own history.
  EXPECT_EQ(fc[0]["pod"], "kv-0");
  EXPECT_LT(fc[0]["peak"].get<double>(), 60) << fc.dump();
  // kv-1: range 0 (500m), trusted at once on the range's history.
  EXPECT_EQ(fc[1]["pod"], "kv-1");
  EXPECT_NEAR(fc[1]["peak"].get<double>(), 500, 60) << fc.dump();
  EXPECT_TRUE(fc[1]["trusted"].get<bool>()) << fc.dump();

  // A routing document that is not JSON: a warning, and back to each pod's
  // own series (kv-1 has three samples: not trusted).
  routing("{oops");
  http.bodies["10.0.0.1"] =
      "shardcast_range_requests_total{range=\"1\"} " + std::to_string(c0) + "\n";
  http.bodies["10.0.0.2"] =
      "shardcast_range_requests_total{range=\"0\"} " + std::to_string(c1) + "\n";
  Round();
  patches = transport->by("PATCH", "/shardsets/kv/status");
  fc = Json::parse(patches.back().body)["status"]["forecasts"];
  ASSERT_EQ(fc.size(), 2u);
  EXPECT_FALSE(fc[1]["trusted"].get<bool>()) << fc.dump();
}

TEST_F(ForecastReconcilerTest, PolicySetsThresholdAndHorizon) {
  // Thresholds as the CRD accepts them (scaleIn < target < max, after its
  // defaults): the one MigrationPolicy parser rejects anything else, in
  // every controller.
  policies.Upsert(std::make_shared<Json>(Json::parse(R"({"metadata":{"name":"p","namespace":"ns"},
    "spec":{"shardSetSelector":{},"forecast":{"horizon":"10m","step":"1m"},
            "thresholds":{"maxUtilization":0.25,"targetUtilization":0.2,"scaleInUtilization":0.1}}})")));
  Round();
  auto patches = transport->by("PATCH", "/shardsets/kv/status");
  ASSERT_EQ(patches.size(), 1u);
  Json fc = Json::parse(patches[0].body)["status"]["forecasts"];
  EXPECT_EQ(fc[0]["horizonSeconds"], 600);
  EXPECT_GT(fc[0]["probExceed"].get<double>(), 0.5);  // 300 > 0.25 x 1000
}

}  // namespace
}  // namespace shardcast::forecast
