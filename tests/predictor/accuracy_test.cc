#include "predictor/accuracy.h"

#include <gtest/gtest.h>

#include <cmath>

namespace shardcast::predictor {
namespace {

TEST(Accuracy, GoodForecasterIsTrustedAfterWarmup) {
  AccuracyTracker a({.window = 100, .season = 1, .min_samples = 30});
  for (int i = 0; i < 20; ++i) a.Record(10 + (i % 2) * 4, 12, 9, 15);
  EXPECT_FALSE(a.trusted());
  EXPECT_NE(a.verdict().find("warming up"), std::string::npos);
  for (int i = 0; i < 20; ++i) a.Record(10 + (i % 2) * 4, 12, 9, 15);
  EXPECT_NEAR(a.mae(), 2.0, 1e-12);
  EXPECT_NEAR(a.mase(), 0.5, 1e-12);  // naive error 4 per step
  EXPECT_DOUBLE_EQ(a.coverage90(), 1.0);
  EXPECT_TRUE(a.trusted()) << a.verdict();
}

TEST(Accuracy, BadBandsOrBadPointsAreNotTrusted) {
  AccuracyTracker narrow;
  for (int i = 0; i < 60; ++i) narrow.Record(10 + (i % 2) * 4, 12, 11.9, 12.1);
  EXPECT_FALSE(narrow.trusted()) << narrow.verdict();
  AccuracyTracker off;
  for (int i = 0; i < 60; ++i) off.Record(10 + (i % 2), 30, 0, 100);
  EXPECT_GT(off.mase(), 1.2);
  EXPECT_FALSE(off.trusted());
  off.Record(NAN, 1, 0, 2);  // ignored
  EXPECT_EQ(off.count(), 60u);
}

}  // namespace
}  // namespace shardcast::predictor
