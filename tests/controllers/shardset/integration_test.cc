// ShardSet controller on the real local control plane (issue 3, section 5,
// tests 1-5; issue 12, item 2: one path for every ownership change). Each
// test gets a fresh namespace and its own operator process (`shardcast run
// --namespace <ns>`), so tests never share state. No test creates a
// MigrationPolicy: the ShardSet controller only publishes ownership
// requests, and where a test needs them carried out it rewrites the routing
// ConfigMap itself, standing in for the executor.
#include "integration_fixture.h"

namespace shardcast::testenv::shardset_it {
namespace {

// Test 1.
TEST_F(ShardSetIT, CreatesActiveAndWarmPodsAndPublishesEveryRangeOnce) {
  ApplyExample();
  StartOperator();
  ASSERT_TRUE(WaitConverged(3, 2));
  RoutingView r = Routing();
  EXPECT_GE(r.epoch, 1);
  for (const auto& [pod, n] : PerOwner(r.owners)) {
    EXPECT_LE(n, static_cast<int>(std::ceil(1.25 * kRanges / 3))) << pod;
  }
  for (const auto& range : r.ranges) {
    EXPECT_EQ(range["state"], "stable");
    EXPECT_NE(range["endpoint"].get<std::string>().find(":8080"), std::string::npos);
  }
  auto set = GetJson({"get", "shardset", "kv"});
  ASSERT_TRUE(set);
  bool ready = false;
  for (const auto& c : (*set)["status"]["conditions"]) {
    if (c["type"] == "Ready") ready = c["status"] == "True";
  }
  EXPECT_TRUE(ready) << (*set)["status"].dump();
  EXPECT_EQ((*set)["status"]["selector"], "shardcast.dev/shardset=kv");
  auto cm = GetJson({"get", "configmap", "kv-routing"});
  ASSERT_TRUE(cm);
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], (*set)["metadata"]["uid"]);
  EXPECT_EQ((*cm)["metadata"]["annotations"]["shardcast.dev/fencing-token"], "1");
  // The last good copy, owned by the ShardSet, byte for byte the document.
  auto lg = GetJson({"get", "configmap", "kv-routing-last-good"});
  ASSERT_TRUE(lg);
  EXPECT_EQ((*lg)["metadata"]["ownerReferences"][0]["uid"], (*set)["metadata"]["uid"]);
  EXPECT_EQ((*lg)["data"]["routing.json"], (*cm)["data"]["routing.json"]);
  EXPECT_EQ((*set)["status"].value("ownershipRequests", Json()), Json::array());

  // At rest: no API writes. Measured over a 10 s window through the
  // resourceVersions of everything the controller writes.
  auto versions = [&] {
    std::string v;
    for (auto what : {"shardset", "configmap", "pods"}) {
      auto j = GetJson({"get", what, "-l", "shardcast.dev/shardset=kv"});
      if (what == std::string("shardset")) j = GetJson({"get", "shardset"});
      if (j) {
        for (const auto& i : (*j)["items"])
          v += i["metadata"]["resourceVersion"].get<std::string>() + ",";
      }
    }
    return v;
  };
  std::string before = versions();
  auto changed = WaitFor([&] { return versions() != before; }, 10s, "a write at rest", 1s);
  EXPECT_FALSE(changed) << "the controller wrote while the set was at rest";
  std::cout << "[measure] API writes at rest over 10 s: " << (changed ? ">0" : "0") << std::endl;
}

// Test 2.
TEST_F(ShardSetIT, DeletedWarmPodIsReplaced) {
  ApplyExample();
  StartOperator();
  ASSERT_TRUE(WaitConverged(3, 2));
  RoutingView before = Routing();
  std::string warm;
  std::set<std::string> uids;
  for (const auto& p : Pods()) {
    uids.insert(p.uid);
    if (p.role == "warm" && warm.empty()) warm = p.name;
  }
  ASSERT_FALSE(warm.empty());
  auto r = Kubectl({"delete", "pod", warm, "-n", ns_, "--wait=false"});
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& p : Pods()) {
          if (!uids.count(p.uid) && p.role == "warm" && p.ready) return true;
        }
        return false;
      },
      60s, "a new warm pod"));
  ASSERT_TRUE(WaitConverged(3, 2));
  EXPECT_EQ(Routing().owners, before.owners) << "a warm pod owns nothing: no range moves";
}

}  // namespace
}  // namespace shardcast::testenv::shardset_it
