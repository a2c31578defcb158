#include "controllers/planner/schedule.h"

#include <gtest/gtest.h>

namespace shardcast::planner {
namespace {

int64_t T(const char* s) {
  auto r = ParseRfc3339(s);
  EXPECT_TRUE(r.ok()) << s;
  return r.value_or(0);
}

TEST(Schedule, Rfc3339RoundTripAndOffsets) {
  EXPECT_EQ(T("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(T("2026-11-27T08:00:00Z"), 1795766400);
  EXPECT_EQ(T("2026-11-27T09:00:00+01:00"), T("2026-11-27T08:00:00Z"));
  EXPECT_EQ(T("2026-11-27T08:00:00.250Z"), T("2026-11-27T08:00:00Z"));
  EXPECT_EQ(FormatRfc3339(1795766400), "2026-11-27T08:00:00Z");
  EXPECT_FALSE(ParseRfc3339("2026-11-27 08:00").ok());
  EXPECT_FALSE(ParseRfc3339("2026-13-27T08:00:00Z").ok());
  EXPECT_EQ(ToCivil(T("2026-11-27T08:00:00Z")).weekday, 5);  // a Friday
}

TEST(Schedule, GoDurations) {
  EXPECT_EQ(ParseDurationSeconds("30m").value_or(-1), 1800);
  EXPECT_EQ(ParseDurationSeconds("1h30m").value_or(-1), 5400);
  EXPECT_EQ(ParseDurationSeconds("10s").value_or(-1), 10);
  EXPECT_EQ(ParseDurationSeconds("1.5h").value_or(-1), 5400);
  EXPECT_EQ(ParseDurationSeconds("0").value_or(-1), 0);
  EXPECT_FALSE(ParseDurationSeconds("10").ok());
  EXPECT_FALSE(ParseDurationSeconds("10d").ok());
  EXPECT_FALSE(ParseDurationSeconds("").ok());
  EXPECT_FALSE(ParseDurationSeconds("-5m").ok());
}

TEST(Schedule, CronMatches) {
  auto c = Cron::Parse("0 8 * * 1-5");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Matches(T("2026-11-27T08:00:00Z")));   // Friday
  EXPECT_FALSE(c->Matches(T("2026-11-28T08:00:00Z")));  // Saturday
  EXPECT_FALSE(c->Matches(T("2026-11-27T08:01:00Z")));
  auto step = Cron::Parse("*/15 * * * *");
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(step->Matches(T("2026-01-01T03:45:00Z")));
  EXPECT_FALSE(step->Matches(T("2026-01-01T03:46:00Z")));
  auto sunday = Cron::Parse("0 0 * * 7");
  ASSERT_TRUE(sunday.ok());
  EXPECT_TRUE(sunday->Matches(T("2026-11-29T00:00:00Z")));
  // Both day fields restricted: either matches (classic cron).
  auto both = Cron::Parse("0 0 1 * 1");
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->Matches(T("2026-12-01T00:00:00Z")));  // 1st, a Tuesday
  EXPECT_TRUE(both->Matches(T("2026-11-30T00:00:00Z")));  // a Monday
  EXPECT_FALSE(both->Matches(T("2026-12-02T00:00:00Z")));
  auto list = Cron::Parse("5,10-12 * * * *");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->Matches(T("2026-01-01T00:11:00Z")));
  EXPECT_FALSE(list->Matches(T("2026-01-01T00:13:00Z")));
}

TEST(Schedule, CronWindows) {
  auto c = Cron::Parse("0 8 * * 1-5");
  ASSERT_TRUE(c.ok());
  const int64_t ten_hours = 36000;
  EXPECT_TRUE(c->ActiveAt(T("2026-11-27T08:00:00Z"), ten_hours));
  EXPECT_TRUE(c->ActiveAt(T("2026-11-27T17:59:59Z"), ten_hours));
  EXPECT_FALSE(c->ActiveAt(T("2026-11-27T18:00:00Z"), ten_hours));
  EXPECT_FALSE(c->ActiveAt(T("2026-11-27T07:59:00Z"), ten_hours));
  EXPECT_FALSE(c->ActiveAt(T("2026-11-28T09:00:00Z"), ten_hours));  // Saturday
  auto xmas = Cron::Parse("0 0 24 12 *");
  ASSERT_TRUE(xmas.ok());
  EXPECT_TRUE(xmas->ActiveAt(T("2026-12-25T23:00:00Z"), 48 * 3600));
  EXPECT_FALSE(xmas->ActiveAt(T("2026-12-26T00:00:00Z"), 48 * 3600));
  EXPECT_FALSE(xmas->ActiveAt(T("2026-12-23T23:59:00Z"), 48 * 3600));
}

TEST(Schedule, CronRejectsBadExpressionsNamingTheField) {
  auto a = Cron::Parse("0 8 * *");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("5 fields"), std::string::npos);
  auto b = Cron::Parse("61 8 * * *");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("minute"), std::string::npos);
  auto c = Cron::Parse("0 8 * * mon");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("day-of-week"), std::string::npos);
  EXPECT_FALSE(Cron::Parse("*/0 * * * *").ok());
}

}  // namespace
}  // namespace shardcast::planner
