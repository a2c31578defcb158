// The routers' load factors: the pure builders, and the reconciler's writes
// of `<routing>-loads` (bounded rate, skipped when nothing moved).
#include "controllers/forecast/load_factors.h"

#include <gtest/gtest.h>

#include <random>

#include "controllers/api/resources.h"
#include "controllers/forecast/reconciler.h"
#include "tests/support/fake_transport.h"

namespace shardcast::forecast {
namespace {

using namespace std::chrono_literals;

PodForecast Fc(const std::string& pod, double p90, bool trusted) {
  PodForecast f;
  f.pod = pod;
  f.p90 = p90;
  f.trusted = trusted;
  return f;
}

TEST(LoadFactors, TrustedP90OverCapacityClampedElseOne) {
  auto f = LoadFactorsOf({"kv-0", "kv-1", "kv-2", "kv-3", "kv-4"},
                         {Fc("kv-0", 720, true), Fc("kv-1", 3000, false), Fc("kv-3", 1, true),
                          Fc("kv-4", 1e6, true), Fc("gone", 500, true)},
                         1000);
  EXPECT_EQ(f, (PodLoadFactors{
                   {"kv-0", 0.72}, {"kv-1", 1.0}, {"kv-2", 1.0}, {"kv-3", 0.05}, {"kv-4", 20.0}}));
  EXPECT_EQ(LoadFactorsOf({"kv-0"}, {Fc("kv-0", 720, true)}, 0), (PodLoadFactors{{"kv-0", 1.0}}));
}

TEST(LoadFactors, DifferOnlyByMoreThanTheStepOrByPods) {
  PodLoadFactors a{{"kv-0", 0.70}, {"kv-1", 1.0}};
  EXPECT_FALSE(LoadFactorsDiffer(a, {{"kv-0", 0.74}, {"kv-1", 0.96}}));
  EXPECT_TRUE(LoadFactorsDiffer(a, {{"kv-0", 0.76}, {"kv-1", 1.0}}));
  EXPECT_TRUE(LoadFactorsDiffer(a, {{"kv-0", 0.70}}));
  EXPECT_TRUE(LoadFactorsDiffer(a, {{"kv-0", 0.70}, {"kv-2", 1.0}}));
}

TEST(LoadFactors, ConfigMapIsOwnedLabelledAndReadBack) {
  Json set = {{"metadata", {{"name", "kv"}, {"namespace", "ns"}, {"uid", "u-1"}}}};
  Json cm = BuildLoadsConfigMap(set, "kv-routing", {{"kv-0", 0.7234}, {"kv-1", 1.0}}, 1796205600);
  EXPECT_EQ(cm["metadata"]["name"], "kv-routing-loads");
  EXPECT_EQ(cm["metadata"]["namespace"], "ns");
  EXPECT_EQ(cm["metadata"]["labels"]["shardcast.dev/shardset"], "kv");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["kind"], "ShardSet");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["uid"], "u-1");
  Json doc = Json::parse(cm["data"]["loads.json"].get<std::string>());
  EXPECT_EQ(doc, Json::parse(R"({"generatedAt": "2026-12-02T10:00:00Z",
                                 "pods": {"kv-0": 0.723, "kv-1": 1.0}})"));
  EXPECT_EQ(LoadFactorsInConfigMap(cm), (PodLoadFactors{{"kv-0", 0.723}, {"kv-1", 1.0}}));
  cm["data"]["loads.json"] = "{";
  EXPECT_EQ(LoadFactorsInConfigMap(cm), std::nullopt);
}

struct FakeTransport : shardcast::testing::FakeTransport {
  FakeTransport() { stamp_writes = true; }
};

Json Pod(const std::string& name) {
  return {{"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"labels", {{"shardcast.dev/shardset", "kv"}, {"shardcast.dev/role", "active"}}}}},
          {"status", {{"phase", "Running"}, {"podIP", "10.0.0.9"}}}};
}

Json Metrics(const std::vector<std::pair<std::string, int>>& cpu) {
  Json items = Json::array();
  for (const auto& [pod, m] : cpu) {
    items.push_back(
        {{"metadata", {{"name", pod}}},
         {"containers",
          Json::array({{{"name", "c"},
                        {"usage", {{"cpu", std::to_string(m) + "m"}, {"memory", "10Mi"}}}}})}});
  }
  return {{"kind", "PodMetricsList"}, {"items", items}};
}

class LoadsReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport = std::make_shared<FakeTransport>();
    client = std::make_shared<kube::Client>(transport);
    set = Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"ShardSet",
      "metadata":{"name":"kv","namespace":"ns","uid":"set-uid","resourceVersion":"1"},
      "spec":{"capacity":{"metric":"CPU","cpuMillis":1000},"routing":{"configMapName":"kv-routing"}}})");
    sets.Upsert(std::make_shared<Json>(set));
    pods.Upsert(std::make_shared<Json>(Pod("kv-0")));
    pods.Upsert(std::make_shared<Json>(Pod("kv-1")));
    metrics_path = kube::Client::Path(kube::resources::kPodMetrics, "ns");
    transport->gets[metrics_path] = Metrics({{"kv-0", 300}, {"kv-1", 500}, {"kv-2", 100}});
    // Five hours of CPU history, so forecasts are fitted models.
    SetState seed;
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0, 5);
    for (int i = 300; i > 0; --i) {
      seed.AddPodUsage({"kv-0", 300 + noise(rng), 0, true, false}, Now() - 60 * i);
      seed.AddPodUsage({"kv-1", 500 + noise(rng), 0, true, false}, Now() - 60 * i);
    }
    transport->gets[kube::Client::Path(kube::resources::kConfigMaps, "ns", "kv-history")] =
        BuildHistoryConfigMap(set, seed, Now());
    rec = MakeReconciler();
  }
  int64_t Now() {
    return std::chrono::duration_cast<std::chrono::seconds>(clock.SystemNow().time_since_epoch())
        .count();
  }
  std::unique_ptr<ForecastReconciler> MakeReconciler() {
    ReconcilerDeps d;
    d.client = client;
    d.shardsets = &sets;
    d.pods = &pods;
    d.configmaps = &configmaps;
    d.clock = &clock;
    ControllerOptions o;
    o.sample_period = 20s;
    o.persist_interval = 3600s;
    o.scrape_ranges = false;
    return std::make_unique<ForecastReconciler>(d, o);
  }
  // One round; the written loads ConfigMap reaches the informer cache.
  void Round() {
    auto r = rec->Reconcile("ns/kv");
    ASSERT_TRUE(r) << r.error().to_string();
    auto w = Writes();
    if (!w.empty()) configmaps.Upsert(std::make_shared<Json>(Json::parse(w.back().body)));
  }
  std::vector<kube::HttpRequest> Writes() {
    return transport->by("PATCH", "/configmaps/kv-routing-loads");
  }
  Json LastDoc() {
    return Json::parse(Json::parse(Writes().back().body)["data"]["loads.json"].get<std::string>());
  }

  std::shared_ptr<FakeTransport> transport;
  std::shared_ptr<kube::Client> client;
  kube::Store sets, pods, configmaps;
  runtime::FakeClock clock;
  Json set;
  std::string metrics_path;
  std::unique_ptr<ForecastReconciler> rec;
};

TEST_F(LoadsReconcilerTest, WritesOnChangeAtMostOncePerIntervalAndSkipsIdenticalWrites) {
  Round();
  ASSERT_EQ(Writes().size(), 1u);
  EXPECT_NE(Writes()[0].path_and_query.find("fieldManager=shardcast-operator-forecast"),
            std::string::npos)
      << Writes()[0].path_and_query;
  Json body = Json::parse(Writes()[0].body);
  EXPECT_EQ(body["metadata"]["ownerReferences"][0]["uid"], "set-uid");
  // The factors agree with the forecasts written to the status (whose p90
  // has two significant digits).
  Json fc = Json::parse(
      transport->by("PATCH", "/shardsets/kv/status").back().body)["status"]["forecasts"];
  ASSERT_EQ(fc.size(), 2u);
  Json doc = LastDoc();
  EXPECT_EQ(doc["pods"].size(), 2u) << doc.dump();
  for (const auto& f : fc) {
    double want = f["trusted"].get<bool>() ? f["p90"].get<double>() / 1000 : 1.0;
    EXPECT_NEAR(doc["pods"][f["pod"].get<std::string>()].get<double>(), want, 0.02 * want)
        << doc.dump();
  }
  // Same load: no more writes.
  for (int i = 0; i < 5; ++i) {
    clock.advance(20s);
    Round();
  }
  EXPECT_EQ(Writes().size(), 1u);
  // A new pod: written, but not before the interval since the last write.
  clock.advance(20s);  // 120 s after the first write
  pods.Upsert(std::make_shared<Json>(Pod("kv-2")));
  Round();
  ASSERT_EQ(Writes().size(), 2u);
  EXPECT_EQ(LastDoc()["pods"]["kv-2"], 1.0);  // no history: untrusted
  pods.Upsert(std::make_shared<Json>(Pod("kv-3")));
  clock.advance(20s);
  Round();
  clock.advance(20s);
  Round();
  EXPECT_EQ(Writes().size(), 2u);  // 40 s after the last write
  clock.advance(20s);
  Round();
  ASSERT_EQ(Writes().size(), 3u);
  EXPECT_EQ(LastDoc()["pods"].size(), 4u);
}

// An operator that restarts takes what the ConfigMap holds as written.
TEST_F(LoadsReconcilerTest, ARestartedOperatorSkipsAnIdenticalWrite) {
  transport->gets.erase(kube::Client::Path(kube::resources::kConfigMaps, "ns", "kv-history"));
  // No history: untrusted forecasts, every factor 1, as already published.
  configmaps.Upsert(std::make_shared<Json>(
      BuildLoadsConfigMap(set, "kv-routing", {{"kv-0", 1.0}, {"kv-1", 1.0}}, Now() - 3600)));
  Round();
  clock.advance(20s);
  Round();
  EXPECT_TRUE(Writes().empty());
  // What it holds differs (kv-0 was busy before the restart): written.
  rec = MakeReconciler();
  configmaps.Upsert(std::make_shared<Json>(
      BuildLoadsConfigMap(set, "kv-routing", {{"kv-0", 3.0}, {"kv-1", 1.0}}, Now() - 3600)));
  Round();
  ASSERT_EQ(Writes().size(), 1u);
  EXPECT_EQ(LastDoc()["pods"], Json::parse(R"({"kv-0": 1.0, "kv-1": 1.0})"));
}

TEST_F(LoadsReconcilerTest, NoRoutingConfigMapNoLoads) {
  set["spec"].erase("routing");
  sets.Upsert(std::make_shared<Json>(set));
  Round();
  EXPECT_TRUE(transport->by("PATCH", "/configmaps/").empty());
}

}  // namespace
}  // namespace shardcast::forecast
