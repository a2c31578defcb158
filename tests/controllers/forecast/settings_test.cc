#include "controllers/forecast/settings.h"

#include <gtest/gtest.h>

namespace shardcast::forecast {
namespace {

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

  // An event that names ranges is the planner's (per range), not the pod
  // forecast's: applying it here too would count it twice.
  Json ranged = p;
  ranged["spec"]["events"].push_back(Json::parse(
      R"({"name":"hot","start":"2026-11-28T08:00:00Z","duration":"1h","multiplier":5,"ranges":[3]})"));
  auto rs = ParsePolicy(ranged);
  ASSERT_TRUE(rs) << rs.error().message;
  ASSERT_EQ(rs->events.size(), 1u);
  EXPECT_EQ(rs->events[0].name, "bf");

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

TEST(ForecastSettings, PolicyChoice) {
  Json labels = {{"app", "kv"}, {"tier", "gold"}};
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

// The forecast controller and the MigrationPolicy controller agree (issue
// 10): a policy without shardSetSelector selects every ShardSet, as the CRD
// says; it used to be ignored here.
TEST(ForecastSettings, PolicyWithoutSelectorSelectsEveryShardSet) {
  Json set = {{"metadata", {{"name", "kv"}, {"labels", {{"app", "kv"}}}}}};
  Json bare = {{"metadata", {{"name", "all"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
               {"spec", Json::object()}};
  EXPECT_EQ(SelectPolicy(set, {&bare}), &bare);
  Json unlabelled = {{"metadata", {{"name", "x"}}}};
  EXPECT_EQ(SelectPolicy(unlabelled, {&bare}), &bare);
  Json broken = {{"metadata", {{"name", "b"}}},
                 {"spec", {{"shardSetSelector", {{"matchLabels", {{"app", 1}}}}}}}};
  EXPECT_EQ(SelectPolicy(set, {&broken}), nullptr);  // a malformed selector selects none
}

// `seasonality: None` is valid in the CRD: no seasonal model (it used to be
// rejected, and the controller silently ran on the Auto defaults).
TEST(ForecastSettings, SeasonalityNoneMeansNoSeasons) {
  Json p = Json::parse(R"({"metadata":{"name":"p"},"spec":{"forecast":{"seasonality":"None"}}})");
  auto s = ParsePolicy(p);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->seasons_seconds.empty());
  p["spec"]["forecast"]["seasonality"] = "Auto";
  s = ParsePolicy(p);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->seasons_seconds, (std::vector<int64_t>{86400, 604800}));
}

}  // namespace
}  // namespace shardcast::forecast
