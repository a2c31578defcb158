#include <gtest/gtest.h>

#include "controllers/forecast/quantity.h"
#include "controllers/forecast/settings.h"

namespace shardcast::forecast {
namespace {

TEST(Quantity, CpuSuffixes) {
  EXPECT_DOUBLE_EQ(ParseCpuMillis("300m", "cpu").value(), 300);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("1", "cpu").value(), 1000);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("0.5", "cpu").value(), 500);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("250000u", "cpu").value(), 250);
  EXPECT_NEAR(ParseCpuMillis("1500000n", "cpu").value(), 1.5, 1e-9);
  EXPECT_NEAR(ParseCpuMillis("299873312n", "cpu").value(), 299.873312, 1e-6);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("2e3", "cpu").value(), 2e6);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("0", "cpu").value(), 0);
}

TEST(Quantity, MemorySuffixes) {
  EXPECT_DOUBLE_EQ(ParseBytes("128Mi", "memory").value(), 128.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(ParseBytes("1Gi", "memory").value(), 1073741824.0);
  EXPECT_DOUBLE_EQ(ParseBytes("4Ki", "memory").value(), 4096);
  EXPECT_DOUBLE_EQ(ParseBytes("1.5G", "memory").value(), 1.5e9);
  EXPECT_DOUBLE_EQ(ParseBytes("12k", "memory").value(), 12000);
  EXPECT_DOUBLE_EQ(ParseBytes("1Ti", "memory").value(), 1099511627776.0);
  EXPECT_DOUBLE_EQ(ParseBytes("1000", "memory").value(), 1000);
}

TEST(Quantity, GarbageIsAnErrorNamingTheField) {
  for (const char* bad : {"", "abc", "12x", "--1", "1.2.3", "m", "1e", "1e9999", "1Zi", ".", "1 m",
                          "0x10", "1e+", "NaN", "Inf"}) {
    auto r = ParseCpuMillis(bad, "containers[0].usage.cpu");
    ASSERT_FALSE(r) << "'" << bad << "' parsed as " << r.value();
    EXPECT_NE(r.error().message.find("containers[0].usage.cpu"), std::string::npos) << r.error().message;
  }
  auto neg = ParseCpuMillis("-5m", "cpu");
  ASSERT_FALSE(neg);
  EXPECT_NE(neg.error().message.find("negative"), std::string::npos);
  EXPECT_FALSE(ParseBytes("-1Mi", "mem"));
  EXPECT_FALSE(ParseQuantity(std::string(100, '9'), "q"));
}

TEST(Duration, GoStyle) {
  EXPECT_EQ(ParseDurationSeconds("30m", "f").value(), 1800);
  EXPECT_EQ(ParseDurationSeconds("1h30m", "f").value(), 5400);
  EXPECT_EQ(ParseDurationSeconds("1.5h", "f").value(), 5400);
  EXPECT_EQ(ParseDurationSeconds("90s", "f").value(), 90);
  EXPECT_EQ(ParseDurationSeconds("1500ms", "f").value(), 1);
  EXPECT_EQ(ParseDurationSeconds("0", "f").value(), 0);
  for (const char* bad : {"", "5", "m", "5x", "1h-3m", "abc"}) {
    auto r = ParseDurationSeconds(bad, "spec.forecast.step");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("spec.forecast.step"), std::string::npos);
  }
}

TEST(ForecastSettings, ShardSetCapacityAndMetricsEndpoint) {
  Json set = Json::parse(R"({"metadata":{"name":"kv","namespace":"ns","uid":"u"},
    "spec":{"capacity":{"metric":"CPU","cpuMillis":500},"metrics":{"port":9100,"path":"/m"}}})");
  auto s = ParseShardSet(set);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->capacity, 500);
  EXPECT_EQ(s->metrics_port, 9100);
  EXPECT_EQ(s->metrics_path, "/m");
  set["spec"]["capacity"]["cpuMillis"] = "lots";
  auto bad = ParseShardSet(set);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("spec.capacity.cpuMillis"), std::string::npos);
  set["spec"]["capacity"] = {{"metric", "RequestsPerSecond"}};
  bad = ParseShardSet(set);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("spec.capacity.requestsPerSecond"), std::string::npos);
  set["spec"]["capacity"] = {{"metric", "Bananas"}};
  EXPECT_FALSE(ParseShardSet(set));
  set["spec"]["capacity"] = Json::object();
  set["spec"]["metrics"]["port"] = 70000;
  bad = ParseShardSet(set);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("spec.metrics.port"), std::string::npos);
}

TEST(ForecastSettings, PolicyFieldsAndErrors) {
  Json p = Json::parse(R"({"metadata":{"name":"p"},"spec":{
    "forecast":{"horizon":"2h","step":"5m","seasonality":"Manual","seasonalPeriods":["24h"]},
    "thresholds":{"maxUtilization":0.9},
    "events":[{"name":"bf","start":"2026-11-27T08:00:00Z","duration":"6h","multiplier":3}]}})");
  auto s = ParsePolicy(p);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->step_seconds, 300);
  EXPECT_EQ(s->horizon_seconds, 7200);
  EXPECT_EQ(s->seasons_seconds, std::vector<int64_t>{86400});
  EXPECT_DOUBLE_EQ(s->max_utilization, 0.9);
  ASSERT_EQ(s->events.size(), 1u);
  EXPECT_EQ(s->events[0].duration, 6 * 3600);
  EXPECT_DOUBLE_EQ(s->events[0].multiplier, 3);

  Json bad = p;
  bad["spec"]["events"][0]["start"] = "yesterday";
  auto r = ParsePolicy(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("spec.events[0].start"), std::string::npos);
  bad = p;
  bad["spec"]["forecast"]["step"] = "fast";
  r = ParsePolicy(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("spec.forecast.step"), std::string::npos);
  bad = p;
  bad["spec"]["thresholds"]["maxUtilization"] = 2;
  r = ParsePolicy(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("maxUtilization"), std::string::npos);
}

TEST(ForecastSettings, SelectorAndPolicyChoice) {
  Json labels = {{"app", "kv"}, {"tier", "gold"}};
  EXPECT_TRUE(SelectorMatches(Json::object(), labels));
  EXPECT_TRUE(SelectorMatches(Json{{"matchLabels", {{"app", "kv"}}}}, labels));
  EXPECT_FALSE(SelectorMatches(Json{{"matchLabels", {{"app", "db"}}}}, labels));
  Json expr = Json::parse(R"({"matchExpressions":[{"key":"tier","operator":"In","values":["gold","silver"]},
                                                   {"key":"zone","operator":"DoesNotExist"}]})");
  EXPECT_TRUE(SelectorMatches(expr, labels));
  expr["matchExpressions"][0]["operator"] = "NotIn";
  EXPECT_FALSE(SelectorMatches(expr, labels));
  expr["matchExpressions"][0]["operator"] = "Bogus";
  EXPECT_FALSE(SelectorMatches(expr, labels));

  Json set = {{"metadata", {{"name", "kv"}, {"labels", labels}}}};
  Json a = {{"metadata", {{"name", "b"}, {"creationTimestamp", "2026-01-02T00:00:00Z"}}},
            {"spec", {{"shardSetSelector", {{"matchLabels", {{"app", "kv"}}}}}}}};
  Json b = {{"metadata", {{"name", "a"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
            {"spec", {{"shardSetSelector", {{"matchLabels", {{"app", "kv"}}}}}}}};
  Json c = {{"metadata", {{"name", "0"}, {"creationTimestamp", "2025-01-01T00:00:00Z"}}},
            {"spec", {{"shardSetSelector", {{"matchLabels", {{"app", "other"}}}}}}}};
  const Json* chosen = SelectPolicy(set, {&a, &b, &c});
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ((*chosen)["metadata"]["name"], "a");  // the oldest selecting one
  EXPECT_EQ(SelectPolicy(set, {&c}), nullptr);
}

}  // namespace
}  // namespace shardcast::forecast
