// A weekly cycle from a coarse history, used at a 1-minute step whose own
// history (three days) is too short for it.
#include "predictor/profile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

namespace shardcast::predictor {
namespace {

constexpr int64_t kDay = 86400, kWeek = 7 * kDay;

// Daily wave; the last two days of each week (phase from t = 0) at half load.
double Load(int64_t t) {
  const double daily = 100 + 40 * std::sin(2 * M_PI * static_cast<double>(t % kDay) / kDay);
  return (t % kWeek) >= 5 * kDay ? 0.5 * daily : daily;
}

RegularSeries Sampled(int64_t start, int64_t step, int64_t n, std::mt19937& rng) {
  std::normal_distribution<double> noise(0, 3);
  RegularSeries s;
  s.start = start;
  s.step = step;
  for (int64_t i = 0; i < n; ++i)
    s.values.push_back(Load(start + i * step + step / 2) + noise(rng));
  return s;
}

TEST(SeasonProfile, NeedsTwoCyclesAndRecoversTheWeeklyShape) {
  std::mt19937 rng(3);
  const int64_t end = 100 * kWeek + 5 * kDay;  // the weekend starts at `end`
  auto short_hist = Sampled(end - 10 * kDay, 900, 10 * 96, rng);
  auto none = SeasonalProfile(short_hist, kWeek);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("cycles"), std::string::npos);
  auto coarse = Sampled(end - 21 * kDay, 900, 21 * 96, rng);
  auto p = SeasonalProfile(coarse, kWeek);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->slot.size(), 672u);
  // Weekend noon sits far below weekday noon.
  EXPECT_LT(p->At(end + kDay / 4 + kDay / 4), p->At(end - kDay + kDay / 2) - 30);
}

TEST(SeasonProfile, AWeeklySeriesIsForecastBetterWithIt) {
  std::mt19937 rng(5);
  const int64_t end = 100 * kWeek + 5 * kDay;  // Friday night: the weekend is next
  const int64_t step = 60, horizon = 360;      // 6 hours at 1 minute
  // What the operator keeps: 15 min x 3 weeks, 1 min x 3 days.
  auto coarse = Sampled(end - 21 * kDay, 900, 21 * 96, rng);
  auto fine = Sampled(end - 3 * kDay, step, 3 * 1440, rng);
  ForecastConfig cfg;
  cfg.horizon = static_cast<int>(horizon);
  cfg.seasons = {1440};  // the daily season fits in three days; the weekly one does not
  cfg.quantiles = {0.5, 0.9};
  cfg.max_backtest_origins = 20;
  auto daily_only = Forecast(fine.values, cfg);
  ASSERT_TRUE(daily_only) << daily_only.error().message;
  auto p = SeasonalProfile(coarse, kWeek);
  ASSERT_TRUE(p) << p.error().message;
  auto weekly = ForecastWithProfile(fine.values, fine.start, step, *p, cfg);
  ASSERT_TRUE(weekly) << weekly.error().message;
  double mae_daily = 0, mae_weekly = 0;
  for (int64_t k = 0; k < horizon; ++k) {
    const double actual = Load(end + k * step + step / 2);
    mae_daily += std::fabs(daily_only->Quantile(0.5, static_cast<size_t>(k)) - actual);
    mae_weekly += std::fabs(weekly->Quantile(0.5, static_cast<size_t>(k)) - actual);
  }
  mae_daily /= horizon;
  mae_weekly /= horizon;
  std::cout << "[ weekly ] MAE over 6 h: daily season only " << mae_daily
            << ", with the weekly profile " << mae_weekly << " (" << weekly->model << ")\n";
  EXPECT_LT(mae_weekly, 0.4 * mae_daily);
  EXPECT_LT(mae_weekly, 10.0);
}

}  // namespace
}  // namespace shardcast::predictor
