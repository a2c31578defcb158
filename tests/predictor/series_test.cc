#include "predictor/series.h"

#include <gtest/gtest.h>

#include <cmath>

namespace shardcast::predictor {
namespace {

TEST(Bucketize, AveragesIrregularSamplesAndLeavesGaps) {
  auto r = Bucketize({{125, 4.0}, {10, 1.0}, {50, 3.0}, {10, 2.0}}, 60);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->start, 0);
  ASSERT_EQ(r->values.size(), 3u);
  EXPECT_DOUBLE_EQ(r->values[0], 2.0);  // (1 + 3 + 2) / 3
  EXPECT_TRUE(std::isnan(r->values[1]));
  EXPECT_DOUBLE_EQ(r->values[2], 4.0);
}

TEST(Bucketize, RejectsBadStepAndHugeSpan) {
  auto r = Bucketize({{0, 1}}, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("step"), std::string::npos);
  auto big = Bucketize({{0, 1}, {int64_t{1} << 40, 1}}, 1);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("timestamps"), std::string::npos);
}

TEST(Bucketize, NonFiniteValuesBecomeGaps) {
  auto r = Bucketize({{0, NAN}, {60, INFINITY}, {120, 5}}, 60);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->values.size(), 1u);
  EXPECT_EQ(r->start, 120);
}

TEST(CounterToRate, HandlesResetsAsRestartFromZero) {
  // 100/s, then a reset to 30 (30 requests since restart), then 100/s again.
  auto rates = CounterToRate({{0, 1000}, {10, 2000}, {20, 30}, {30, 1030}});
  ASSERT_EQ(rates.size(), 3u);
  EXPECT_DOUBLE_EQ(rates[0].v, 100.0);
  EXPECT_DOUBLE_EQ(rates[1].v, 3.0);
  EXPECT_DOUBLE_EQ(rates[2].v, 100.0);
  for (const auto& s : rates) EXPECT_GE(s.v, 0.0);
}

TEST(CounterToRate, UnorderedAndDuplicateTimestamps) {
  auto rates = CounterToRate({{20, 300}, {0, 100}, {10, 150}, {10, 200}});
  ASSERT_EQ(rates.size(), 2u);
  EXPECT_DOUBLE_EQ(rates[0].v, 10.0);  // (200-100)/10, duplicate: last wins
  EXPECT_DOUBLE_EQ(rates[1].v, 10.0);
}

}  // namespace
}  // namespace shardcast::predictor
