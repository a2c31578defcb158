// The forecast reconciler with spec.routers and spec.hooks: router pods
// listed through the API, their /metrics summed into status.routerStats and
// the range series, range sizes asked of each pod (POST /shardcast/ranges),
// and status.rangeForecasts with sizes. Fakes: API transport, HTTP, clock.
#include <gtest/gtest.h>

#include "controllers/api/resources.h"
#include "controllers/forecast/reconciler.h"
#include "tests/support/fake_http_getter.h"
#include "tests/support/fake_transport.h"

namespace shardcast::forecast {
namespace {

using namespace std::chrono_literals;

// The shard agent's range sizes (POST /shardcast/ranges): 10 keys and
// 1000 x id bytes for every range asked.
Result<std::string> RangeSizes(const std::string& body) {
  Json req = Json::parse(body);
  Json ans = {{"ranges", Json::array()}, {"bytesExact", true}};
  for (const auto& r : req["ranges"]) {
    ans["ranges"].push_back({{"id", r["id"]}, {"keys", 10}, {"bytes", 1000 * r["id"].get<int>()}});
  }
  return ans.dump();
}

Json SetObj() {
  return Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"ShardSet",
    "metadata":{"name":"kv","namespace":"ns","uid":"u","resourceVersion":"1"},
    "spec":{"capacity":{"metric":"RequestsPerSecond","requestsPerSecond":100},
            "routing":{"configMapName":"kv-routing"},
            "hooks":{"port":8081},
            "routers":{"selector":{"matchLabels":{"app":"kv-router"}},"metricsPort":9121}}})");
}

Json Pod(const std::string& name, const std::string& ip) {
  return {{"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"labels", {{"shardcast.dev/shardset", "kv"}, {"shardcast.dev/role", "active"}}}}},
          {"status", {{"phase", "Running"}, {"podIP", ip}}}};
}

Json Router(const std::string& name, const std::string& ip) {
  return {
      {"metadata", {{"name", name}, {"namespace", "ns"}, {"labels", {{"app", "kv-router"}}}}},
      {"status",
       {{"podIP", ip}, {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

// Four ranges; range 1 owned by `owner1`.
Json RoutingCm(int epoch, const std::string& owner1) {
  const uint64_t q = 1ull << 30;
  Json ranges = Json::array();
  for (int i = 0; i < 4; ++i) {
    const std::string owner = i == 1 ? owner1 : (i % 2 == 0 ? "kv-0" : "kv-1");
    ranges.push_back({{"id", i},
                      {"start", i * q},
                      {"end", (i + 1) * q - 1},
                      {"owner", owner},
                      {"endpoint", owner == "kv-0" ? "10.0.0.1:8080" : "10.0.0.2:8080"},
                      {"state", "stable"}});
  }
  Json doc = {{"schemaVersion", 1},
              {"shardSet", "kv"},
              {"epoch", epoch},
              {"hash", "fnv1a64-high32"},
              {"ranges", ranges}};
  return {{"metadata",
           {{"name", "kv-routing"},
            {"namespace", "ns"},
            {"labels", {{"shardcast.dev/shardset", "kv"}}}}},
          {"data", {{"routing.json", doc.dump()}}}};
}

std::string Page(double r1_reads, double r1_writes, double other) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const double reads = i == 1 ? r1_reads : other;
    const double writes = i == 1 ? r1_writes : 0;
    s += "shardcast_router_range_requests_total{range=\"" + std::to_string(i) +
         "\",kind=\"read\"} " + std::to_string(reads) + "\n";
    s += "shardcast_router_range_requests_total{range=\"" + std::to_string(i) +
         "\",kind=\"write\"} " + std::to_string(writes) + "\n";
  }
  s += "shardcast_router_shadow_comparisons_total{range=\"1\",result=\"match\"} 5\n";
  return s;
}

class RouterReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport = std::make_shared<shardcast::testing::FakeTransport>();
    transport->stamp_writes = true;
    client = std::make_shared<kube::Client>(transport);
    sets.Upsert(std::make_shared<Json>(SetObj()));
    pods.Upsert(std::make_shared<Json>(Pod("kv-0", "10.0.0.1")));
    pods.Upsert(std::make_shared<Json>(Pod("kv-1", "10.0.0.2")));
    configmaps.Upsert(std::make_shared<Json>(RoutingCm(1, "kv-1")));
    transport->gets[kube::Client::Path(kube::resources::kPods, "ns")] =
        Json{{"kind", "PodList"},
             {"items", Json::array({Router("router-a", "10.1.0.1"), Router("router-b", "10.1.0.2"),
                                    Pod("kv-0", "10.0.0.1")})}};
    http.on_post = RangeSizes;
    http.bodies["10.1.0.1"] = Page(100, 0, 10);
    http.bodies["10.1.0.2"] = Page(50, 50, 10);
    ReconcilerDeps d;
    d.client = client;
    d.shardsets = &sets;
    d.pods = &pods;
    d.policies = &policies;
    d.configmaps = &configmaps;
    d.http = &http;
    d.clock = &clock;
    ControllerOptions o;
    o.sample_period = 60s;
    o.persist_interval = 3600s;
    rec = std::make_unique<ForecastReconciler>(d, o);
  }
  Json Round() {
    auto r = rec->Reconcile("ns/kv");
    EXPECT_TRUE(r) << r.error().to_string();
    auto patches = transport->by("PATCH", "/shardsets/kv/status");
    if (patches.empty()) return Json();
    Json obj = *sets.get("ns/kv");
    obj.merge_patch(Json::parse(patches.back().body));
    sets.Upsert(std::make_shared<Json>(obj));
    return obj["status"];
  }

  std::shared_ptr<shardcast::testing::FakeTransport> transport;
  std::shared_ptr<kube::Client> client;
  kube::Store sets, pods, policies, configmaps;
  shardcast::testing::FakeHttpGetter http;
  runtime::FakeClock clock;
  std::unique_ptr<ForecastReconciler> rec;
};

TEST_F(RouterReconcilerTest, RoutersAreSummedAndMovedRangesPublished) {
  Json st = Round();
  // Only the Ready pods the selector matches are scraped, on metricsPort.
  EXPECT_EQ(http.gets,
            (std::vector<std::string>{"10.1.0.1:9121/metrics", "10.1.0.2:9121/metrics"}));
  auto lists = transport->by("GET", "/pods");
  ASSERT_FALSE(lists.empty());
  EXPECT_NE(lists.back().path_and_query.find("labelSelector=app"), std::string::npos);
  // Sizes: one POST per pod with the ranges it owns (kv-0: 0, 2; kv-1: 1, 3).
  ASSERT_EQ(http.posts.size(), 2u);
  EXPECT_EQ(http.posts[0].substr(0, http.posts[0].find(' ')), "10.0.0.1:8081/shardcast/ranges");
  EXPECT_NE(http.posts[0].find("\"id\":2"), std::string::npos);
  EXPECT_EQ(http.posts[0].find("\"id\":1"), std::string::npos);
  ASSERT_TRUE(st.contains("routerStats")) << st.dump();
  EXPECT_EQ(st["routerStats"]["routers"], 2);
  EXPECT_TRUE(st["routerStats"]["ranges"].empty());  // nothing moving

  // A minute later range 1 moved to kv-0 and both routers served more.
  configmaps.Upsert(std::make_shared<Json>(RoutingCm(2, "kv-0")));
  http.bodies["10.1.0.1"] = Page(160, 0, 70);
  http.bodies["10.1.0.2"] = Page(80, 80, 70);
  clock.advance(60s);
  st = Round();
  ASSERT_EQ(st["routerStats"]["ranges"].size(), 1u) << st.dump();
  const Json r1 = st["routerStats"]["ranges"][0];
  EXPECT_EQ(r1["range"], 1);
  EXPECT_EQ(r1["requests"], 160 + 160);  // summed over both routers
  EXPECT_EQ(r1["shadowCompared"], 10);
  // Sizes are asked again once the minute has passed (at most once a minute).
  EXPECT_EQ(http.posts.size(), 4u);
  // Range forecasts: each pod's ranges with the agent's sizes.
  ASSERT_TRUE(st.contains("rangeForecasts")) << st.dump();
  bool saw_r1 = false;
  for (const auto& rf : st["rangeForecasts"]) {
    if (rf["range"] == 1) {
      saw_r1 = true;
      EXPECT_EQ(rf["pod"], "kv-0");
      EXPECT_EQ(rf["sizeBytes"], 1000);
      EXPECT_EQ(rf["keys"], 10);
      EXPECT_NEAR(rf["readShare"].get<double>(), 240.0 / 320, 0.01);
    }
  }
  EXPECT_TRUE(saw_r1) << st["rangeForecasts"].dump();
  for (const auto& f : st["forecasts"]) EXPECT_TRUE(f.contains("rangesRest")) << f.dump();

  // A restarted router (counters back near zero) does not make the totals go down.
  http.bodies["10.1.0.1"] = Page(4, 0, 1);
  clock.advance(60s);
  st = Round();
  EXPECT_EQ(st["routerStats"]["ranges"][0]["requests"], 320 + 4);
}

TEST_F(RouterReconcilerTest, WithoutRoutersTheWorkloadCountersAreScraped) {
  Json obj = SetObj();
  obj["spec"].erase("routers");
  obj["spec"]["metrics"] = {{"port", 9090}};
  sets.Upsert(std::make_shared<Json>(obj));
  Json st = Round();
  for (const auto& g : http.gets) EXPECT_EQ(g.find(":9121"), std::string::npos) << g;
  EXPECT_NE(std::find(http.gets.begin(), http.gets.end(), "10.0.0.1:9090/metrics"),
            http.gets.end());
  EXPECT_FALSE(st.is_object() && st.contains("routerStats"));
}

}  // namespace
}  // namespace shardcast::forecast
