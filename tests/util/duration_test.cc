#include "util/duration.h"

#include <gtest/gtest.h>

namespace shardcast::util {
namespace {

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

}  // namespace
}  // namespace shardcast::util
