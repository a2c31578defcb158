#include "operator/runtime/backoff.h"

#include <gtest/gtest.h>

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, WithoutJitterGrowsByFactorUpToMax) {
  auto b = Backoff::create({.initial = 100ms, .factor = 2.0, .max = 1s, .jitter = 0.0, .seed = 1});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->next(), 100ms);
  EXPECT_EQ(b->next(), 200ms);
  EXPECT_EQ(b->next(), 400ms);
  EXPECT_EQ(b->next(), 800ms);
  EXPECT_EQ(b->next(), 1s);
  for (int i = 0; i < 2000; ++i) (void)b->next();  // no overflow when capped
  EXPECT_EQ(b->next(), 1s);
  EXPECT_EQ(b->attempts(), 2006);
  b->reset();
  EXPECT_EQ(b->attempts(), 0);
  EXPECT_EQ(b->next(), 100ms);
}

TEST(BackoffTest, JitterStaysWithinBoundsAndSpreads) {
  auto b = Backoff::create({.initial = 1s, .factor = 1.0, .max = 1s, .jitter = 0.5, .seed = 7});
  ASSERT_TRUE(b.ok());
  std::chrono::nanoseconds lo = 1s, hi = 0s;
  for (int i = 0; i < 1000; ++i) {
    const auto d = b->next();
    ASSERT_GE(d, 500ms);
    ASSERT_LE(d, 1s);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, 550ms);
  EXPECT_GT(hi, 950ms);
}

TEST(BackoffTest, SameSeedSameSequence) {
  BackoffOptions o{.initial = 10ms, .factor = 3.0, .max = 10s, .jitter = 0.3, .seed = 99};
  auto a = Backoff::create(o);
  auto b = Backoff::create(o);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a->next(), b->next());
}

TEST(BackoffTest, InvalidOptionsNameTheField) {
  auto check = [](BackoffOptions o, const std::string& field) {
    auto b = Backoff::create(o);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().message.find(field), std::string::npos) << b.error().message;
  };
  check({.initial = 0ms}, "initial");
  check({.factor = 0.5}, "factor");
  check({.factor = std::numeric_limits<double>::quiet_NaN()}, "factor");
  check({.initial = 2s, .max = 1s}, "max");
  check({.jitter = 1.5}, "jitter");
  check({.jitter = -0.1}, "jitter");
}

}  // namespace
}  // namespace shardcast::runtime
