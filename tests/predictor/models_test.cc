#include "predictor/models.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shardcast::predictor {
namespace {

std::vector<double> Wave(int n, int m, double level, double amp) {
  std::vector<double> y(n);
  for (int t = 0; t < n; ++t) y[t] = level + amp * std::sin(2 * M_PI * t / m);
  return y;
}

TEST(NelderMead, FindsQuadraticMinimum) {
  auto x = NelderMead([](const std::vector<double>& v) { return (v[0] - 1) * (v[0] - 1) + 3 * (v[1] + 2) * (v[1] + 2); },
                      {0, 0}, 0.5, 500, 1e-14);
  EXPECT_NEAR(x[0], 1, 1e-3);
  EXPECT_NEAR(x[1], -2, 1e-3);
}

TEST(SeasonalityTest, DetectsWaveNotNoise) {
  EXPECT_TRUE(SeasonalityTest(Wave(240, 24, 10, 3), 24));
  // A 90% test: white noise is flagged seasonal in about 10% of cases.
  std::mt19937 rng(11);
  std::normal_distribution<double> nd(0, 1);
  int flagged = 0;
  for (int s = 0; s < 200; ++s) {
    std::vector<double> noise(240);
    for (auto& v : noise) v = 5 + nd(rng);
    flagged += SeasonalityTest(noise, 24);
  }
  EXPECT_LT(flagged, 40);
}

TEST(ClassicalIndices, MeanOneAndShape) {
  auto idx = ClassicalIndices(Wave(240, 24, 10, 3), 24);
  ASSERT_EQ(idx.size(), 24u);
  double mean = 0;
  for (double v : idx) mean += v / 24;
  EXPECT_NEAR(mean, 1, 1e-9);
  EXPECT_NEAR(idx[6], 1.3, 0.02);  // peak at a quarter period
}

TEST(Models, PureSeasonalWaveForecastAlmostExactly) {
  auto y = Wave(24 * 20, 24, 100, 30);
  auto truth = Wave(24 * 22, 24, 100, 30);
  for (auto run : {RunSeasonalNaive(y, 24, 48, {}), RunAutoEts(y, 24, 48, {}), RunMstl(y, {24}, false, 48, {}),
                   RunTheta(y, 24, 48, {})}) {
    ASSERT_EQ(run.forecast.size(), 48u);
    for (int k = 0; k < 48; ++k) EXPECT_NEAR(run.forecast[k], truth[480 + k], 1.0) << run.name << " step " << k;
  }
}

TEST(Models, LinearTrendForecastByEtsAndTheta) {
  std::vector<double> y(200);
  for (int t = 0; t < 200; ++t) y[t] = 10 + 0.5 * t;
  auto ets = RunEts(y, 1, EtsTrend::kDamped, EtsSeason::kNone, 10, {});
  for (int k = 0; k < 10; ++k) EXPECT_NEAR(ets.forecast[k], 10 + 0.5 * (200 + k), 0.5 * (k + 1) * 0.2 + 0.1);
  auto theta = RunTheta(y, 1, 10, {});
  // Theta extrapolates half the slope on top of SES (which lags); close to the line.
  for (int k = 0; k < 10; ++k) EXPECT_NEAR(theta.forecast[k], 10 + 0.5 * (200 + k), 3.0);
}

TEST(Models, BacktestFromOriginsUsesOnlyThePast) {
  auto y = Wave(24 * 10, 24, 50, 10);
  std::vector<int> origins{100, 150, 200};
  auto sn = RunSeasonalNaive(y, 24, 24, origins);
  ASSERT_EQ(sn.backtest.size(), 3u);
  for (size_t i = 0; i < origins.size(); ++i)
    for (int k = 0; k < 24; ++k) EXPECT_DOUBLE_EQ(sn.backtest[i][k], y[origins[i] + k - 24]);
  auto ets = RunAutoEts(y, 24, 24, origins);
  ASSERT_EQ(ets.backtest.size(), 3u);
}

}  // namespace
}  // namespace shardcast::predictor
