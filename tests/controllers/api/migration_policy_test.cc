// The one MigrationPolicy parser: CRD defaults, every CRD value accepted,
// errors naming the field.
#include "controllers/api/migration_policy.h"

#include <gtest/gtest.h>

namespace shardcast::api {
namespace {

Json Policy(const std::string& spec) {
  return Json{{"metadata",
               {{"name", "p"}, {"namespace", "ns"}, {"creationTimestamp", "2026-11-27T08:00:00Z"}}},
              {"spec", Json::parse(spec)}};
}

TEST(ApiMigrationPolicy, DefaultsFollowTheCrd) {
  auto p = ParseMigrationPolicy(Policy("{}"));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->mode, Mode::kProposal);
  EXPECT_EQ(p->seasonality, Seasonality::kAuto);
  EXPECT_EQ(p->step_seconds, 60);
  EXPECT_EQ(p->horizon_seconds, 1800);
  EXPECT_EQ(p->cooldown_seconds, 300);
  EXPECT_EQ(p->proposal_ttl_seconds, 900);
  EXPECT_EQ(p->created, 1795766400);
  // No shardSetSelector: every ShardSet is selected (crds/, docs/api.md).
  EXPECT_TRUE(p->selector.empty());
  EXPECT_TRUE(p->selector.Matches({{"any", "thing"}}));
  EXPECT_TRUE(p->selector.Matches({}));
}

TEST(ApiMigrationPolicy, SeasonalityNoneIsAccepted) {
  auto p = ParseMigrationPolicy(Policy(R"({"forecast":{"seasonality":"None"}})"));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->seasonality, Seasonality::kNone);
  auto m = ParseMigrationPolicy(
      Policy(R"({"forecast":{"seasonality":"Manual","seasonalPeriods":["24h","168h"]}})"));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->seasonal_periods_seconds, (std::vector<int64_t>{86400, 604800}));
  auto bad = ParseMigrationPolicy(Policy(R"({"forecast":{"seasonality":"Sometimes"}})"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("spec.forecast.seasonality"), std::string::npos);
}

TEST(ApiMigrationPolicy, BadFieldsAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"mode":"Sometimes"})", "spec.mode"},
      {R"({"forecast":5})", "spec.forecast: must be a map"},
      {R"({"forecast":{"confidence":"high"}})", "spec.forecast.confidence"},
      {R"({"forecast":{"step":"10m","horizon":"5m"}})", "spec.forecast.horizon"},
      {R"({"limits":{"cooldown":"soon"}})", "spec.limits.cooldown"},
      {R"({"thresholds":{"maxUtilization":2}})", "spec.thresholds.maxUtilization"},
      {R"({"windows":[{"schedule":"* * * * *"}]})", "spec.windows[0].duration"},
      {R"({"blackouts":[{"schedule":"0 0 24 13 *","duration":"1h"}]})",
       "spec.blackouts[0].schedule"},
      {R"({"events":[{"name":"x","start":"yesterday","duration":"1h"}]})", "spec.events[0].start"},
      {R"({"events":[{"name":"x","start":"2026-11-27T08:00:00Z"}]})", "spec.events[0].duration"},
      {R"({"migration":{"leadTime":3}})", "spec.migration.leadTime"},
      {R"({"shardSetSelector":{"matchLabels":{"a":1}}})", "spec.shardSetSelector.matchLabels.a"},
      {R"({"shardSetSelector":"all"})", "spec.shardSetSelector"},
  };
  for (const auto& [spec, field] : cases) {
    auto p = ParseMigrationPolicy(Policy(spec));
    ASSERT_FALSE(p) << spec;
    EXPECT_NE(p.error().message.find(field), std::string::npos)
        << spec << " -> " << p.error().message;
  }
}

TEST(ApiMigrationPolicy, EventsAndSchedules) {
  auto p = ParseMigrationPolicy(
      Policy(R"({"events":[{"name":"bf","start":"2026-11-27T08:00:00Z","duration":"6h",
    "multiplier":3}],"windows":[{"schedule":"0 2 * * *","duration":"2h"}]})"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->events.size(), 1u);
  EXPECT_EQ(p->events[0].duration_seconds, 6 * 3600);
  EXPECT_DOUBLE_EQ(p->events[0].multiplier, 3);
  ASSERT_EQ(p->windows.size(), 1u);
  EXPECT_EQ(p->windows[0].cron, "0 2 * * *");
  EXPECT_EQ(p->windows[0].duration_seconds, 7200);
}

}  // namespace
}  // namespace shardcast::api
