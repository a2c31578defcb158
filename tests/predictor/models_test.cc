#include "predictor/models.h"

#include <gtest/gtest.h>

#include <algorithm>
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
  auto x = NelderMead(
      [](const std::vector<double>& v) {
        return (v[0] - 1) * (v[0] - 1) + 3 * (v[1] + 2) * (v[1] + 2);
      },
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
  for (auto run : {RunSeasonalNaive(y, 24, 48, {}), RunAutoEts(y, 24, 48, {}),
                   RunMstl(y, {24}, false, 48, {}), RunTheta(y, 24, 48, {})}) {
    ASSERT_EQ(run.forecast.size(), 48u);
    for (int k = 0; k < 48; ++k)
      EXPECT_NEAR(run.forecast[k], truth[480 + k], 1.0) << run.name << " step " << k;
  }
}

TEST(Models, LinearTrendForecastByEtsAndTheta) {
  std::vector<double> y(200);
  for (int t = 0; t < 200; ++t) y[t] = 10 + 0.5 * t;
  auto ets = RunEts(y, 1, EtsTrend::kDamped, EtsSeason::kNone, 10, {});
  for (int k = 0; k < 10; ++k)
    EXPECT_NEAR(ets.forecast[k], 10 + 0.5 * (200 + k), 0.5 * (k + 1) * 0.2 + 0.1);
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

TEST(SeasonalAr, LagsFollowThePeriodsAndTheLength) {
  EXPECT_EQ(SeasonalArLags({24, 168}, 912),
            (std::vector<int>{1, 2, 3, 23, 24, 25, 47, 48, 167, 168, 169, 336}));
  // 336 needs n > 672: a 652-point series keeps the rest.
  EXPECT_EQ(SeasonalArLags({168, 24}, 652),
            (std::vector<int>{1, 2, 3, 23, 24, 25, 47, 48, 167, 168, 169}));
  EXPECT_EQ(SeasonalArLags({}, 100), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(SeasonalArLags({24}, 5), (std::vector<int>{1, 2}));
}

TEST(SeasonalAr, GrowingMultiplicativeSeasonForecastAlmostExactly) {
  // Level grows 0.2% per step and the season is proportional to it: in logs
  // a periodic series plus a line, which the lag-24 term reproduces.
  auto f = [](int t) { return 100 * std::pow(1.002, t) * (1 + 0.4 * std::sin(2 * M_PI * t / 24)); };
  std::vector<double> y(24 * 20);
  for (int t = 0; t < static_cast<int>(y.size()); ++t) y[t] = f(t);
  auto run = RunSeasonalAr(y, {24}, 48, {300, 400});
  EXPECT_EQ(run.name, "ar");
  ASSERT_EQ(run.forecast.size(), 48u);
  for (int k = 0; k < 48; ++k) EXPECT_NEAR(run.forecast[k] / f(480 + k), 1.0, 0.01) << "step " << k;
  ASSERT_EQ(run.backtest.size(), 2u);
  for (int k = 0; k < 48; ++k)
    EXPECT_NEAR(run.backtest[1][k] / f(400 + k), 1.0, 0.01) << "step " << k;
}

TEST(SeasonalAr, ZerosAndExplosiveDataStayFiniteAndBounded) {
  // Zeros: log(y + shift); an exploding series: forecasts stay within the
  // observed log range +-1 (a factor e).
  std::vector<double> y(300);
  for (int t = 0; t < 300; ++t) y[t] = (t % 24 < 6) ? 0.0 : 5.0 + (t % 24);
  auto a = RunSeasonalAr(y, {24}, 48, {});
  for (double v : a.forecast) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GE(v, -0.5);
    EXPECT_LE(v, 29 * M_E);
  }
  std::vector<double> g(200);
  for (int t = 0; t < 200; ++t) g[t] = std::exp(0.05 * t) * (1 + 0.1 * std::sin(t));
  auto b = RunSeasonalAr(g, {24}, 200, {});
  const double gmax = *std::max_element(g.begin(), g.end());
  for (double v : b.forecast) EXPECT_LE(v, gmax * M_E * 1.0001);
}

TEST(SeasonalAr, TooShortFallsBackToSeasonalNaive) {
  std::vector<double> y{1, 2, 3, 4, 5, 6};
  auto r = RunSeasonalAr(y, {2}, 4, {});
  EXPECT_EQ(r.name, "ar:snaive");
  EXPECT_EQ(r.forecast, (std::vector<double>{5, 6, 5, 6}));
}

}  // namespace
}  // namespace shardcast::predictor
