#include "util/cron.h"

#include <gtest/gtest.h>

#include "util/time.h"

namespace shardcast::util {
namespace {

TEST(Cron, MatchesAndWindows) {
  auto c = Cron::Parse("30 2 * * 1-5");
  ASSERT_TRUE(c) << c.error().message;
  int64_t mon = *ParseRfc3339("2026-11-30T02:30:00Z");  // a Monday
  EXPECT_TRUE(c->Matches(mon));
  EXPECT_FALSE(c->Matches(mon + 60));
  EXPECT_TRUE(c->ActiveAt(mon + 3599, 3600));
  EXPECT_FALSE(c->ActiveAt(mon + 3600, 3600));
  EXPECT_FALSE(c->Matches(*ParseRfc3339("2026-11-29T02:30:00Z")));  // Sunday
  EXPECT_EQ(FormatRfc3339(mon), "2026-11-30T02:30:00Z");
}

TEST(Cron, ErrorsNameTheField) {
  for (const char* bad : {"", "* * * *", "0 99 * * *", "*/0 * * * *", "a * * * *", "0 0 24 13 *"}) {
    auto c = Cron::Parse(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message.find("cron"), std::string::npos) << c.error().message;
  }
  EXPECT_NE(Cron::Parse("0 99 * * *").error().message.find("hour"), std::string::npos);
}

}  // namespace
}  // namespace shardcast::util
