// The one ShardSet parser: defaults, validation naming the field, and what
// each use requires.
#include "controllers/api/shardset.h"

#include <gtest/gtest.h>

namespace shardcast::api {
namespace {

Json Minimal() {
  return Json::parse(
      R"({"metadata":{"name":"kv","namespace":"ns","labels":{"app":"kv","n":1}},"spec":{}})");
}

TEST(ApiShardSet, LoadUseNeedsOnlyANameAndTakesTheCrdDefaults) {
  auto s = ParseShardSet(Minimal(), ShardSetUse::kLoad);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->replicas, 3);
  EXPECT_EQ(s->ranges, 256);
  EXPECT_EQ(s->metric, CapacityMetric::kCpu);
  EXPECT_DOUBLE_EQ(s->capacity, 1000);
  EXPECT_EQ(s->metrics_port, 9090);
  EXPECT_EQ(s->metrics_path, "/metrics");
  EXPECT_FALSE(s->hooks.enabled);
  EXPECT_EQ(s->labels, (util::Labels{{"app", "kv"}}));  // non-string values are not labels
  // The ShardSet controller needs the routing ConfigMap and the pod template.
  auto w = ParseShardSet(Minimal(), ShardSetUse::kWorkload);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "spec.routing: missing or not an object");
}

TEST(ApiShardSet, CapacityIsInTheUnitOfItsMetric) {
  Json o = Minimal();
  o["spec"]["capacity"] = {{"metric", "RequestsPerSecond"}, {"requestsPerSecond", 250}};
  auto s = ParseShardSet(o, ShardSetUse::kLoad);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->metric, CapacityMetric::kRequestsPerSecond);
  EXPECT_DOUBLE_EQ(s->capacity, 250);
  o["spec"]["capacity"].erase("requestsPerSecond");
  auto bad = ParseShardSet(o, ShardSetUse::kLoad);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("spec.capacity.requestsPerSecond"), std::string::npos);
  o["spec"]["capacity"] = {{"metric", "CPU"}, {"cpuMillis", 0}};
  bad = ParseShardSet(o, ShardSetUse::kLoad);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("spec.capacity.cpuMillis"), std::string::npos);
}

TEST(ApiShardSet, HooksAndEndpointsAreValidated) {
  Json o = Minimal();
  o["spec"]["hooks"] = {{"port", 9000}, {"timeoutSeconds", 5}, {"copyPath", "/c"}};
  auto s = ParseShardSet(o, ShardSetUse::kLoad);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->hooks.enabled);
  EXPECT_EQ(s->hooks.port, 9000);
  EXPECT_EQ(s->hooks.timeout_seconds, 5);
  EXPECT_EQ(s->hooks.copy_path, "/c");
  EXPECT_EQ(s->hooks.prepare_path, "/shardcast/prepare");
  const std::vector<std::pair<Json, std::string>> bad = {
      {Json{{"hooks", {{"timeoutSeconds", 0}}}}, "spec.hooks.timeoutSeconds"},
      {Json{{"hooks", {{"copyPath", "c"}}}}, "spec.hooks.copyPath"},
      {Json{{"hooks", 3}}, "spec.hooks"},
      {Json{{"metrics", {{"port", 70000}}}}, "spec.metrics.port"},
      {Json{{"metrics", {{"path", "m"}}}}, "spec.metrics.path"},
      {Json{{"capacity", {{"metric", "Bananas"}}}}, "spec.capacity.metric"},
      {Json{{"routing", {{"configMapName", "Bad_Name"}}}}, "spec.routing.configMapName"},
  };
  for (const auto& [spec, field] : bad) {
    Json b = Minimal();
    b["spec"] = spec;
    auto r = ParseShardSet(b, ShardSetUse::kLoad);
    ASSERT_FALSE(r) << spec.dump();
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace shardcast::api
