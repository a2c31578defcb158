#include "util/time.h"

#include <gtest/gtest.h>

namespace shardcast::util {
namespace {

TEST(Time, Rfc3339) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T01:00:00.5+01:00"), 0);
  EXPECT_FALSE(ParseRfc3339("yesterday"));
}

TEST(Time, Rfc3339KeepsTheFraction) {
  auto t = ParseRfc3339Time("2026-11-27T08:00:00.25Z");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->seconds, 1795766400);
  EXPECT_DOUBLE_EQ(t->fraction, 0.25);
  EXPECT_EQ(FormatRfc3339(t->seconds), "2026-11-27T08:00:00Z");
}

TEST(Time, Rfc3339RejectsWhatIsNotADate) {
  for (const char* bad : {"2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-27T-1:00:00Z",
                          "2026-11-27T08:00:00.Z", "2026-11-27T08:00:00+24:00",
                          "2026-11-27 08:00:00Z", "2026-11-27T08:00:00"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z"));
  EXPECT_NE(ParseRfc3339("nope").error().message.find("want RFC 3339"), std::string::npos);
}

TEST(Time, Rfc3339SyntaxOptions) {
  const Rfc3339Syntax lenient{.space_separator = true, .optional_zone = true};
  auto t = ParseRfc3339Time("2026-11-27 08:00:00", lenient);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->seconds, 1795766400);
  EXPECT_FALSE(ParseRfc3339Time("2026-11-27 08:00:00"));
  EXPECT_FALSE(ParseRfc3339Time("2026-11-27T08:00:00"));
  EXPECT_FALSE(ParseRfc3339Time("2026-11-27X08:00:00", lenient));
}

}  // namespace
}  // namespace shardcast::util
