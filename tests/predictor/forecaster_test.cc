#include "predictor/forecaster.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "predictor/series.h"

namespace shardcast::predictor {
namespace {

std::vector<double> Seasonal(int n, int m, double level, double amp, double noise,
                             std::mt19937& rng) {
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> y(n);
  for (int t = 0; t < n; ++t) y[t] = level + amp * std::sin(2 * M_PI * t / m) + noise * nd(rng);
  return y;
}

ForecastConfig Cfg(int h, std::vector<int> seasons,
                   std::vector<double> q = {0.05, 0.5, 0.9, 0.95, 0.99}) {
  ForecastConfig c;
  c.horizon = h;
  c.seasons = std::move(seasons);
  c.quantiles = std::move(q);
  return c;
}

TEST(Forecast, ConstantSeriesIsExact) {
  auto f = Forecast(std::vector<double>(200, 42.0), Cfg(24, {24}));
  ASSERT_TRUE(f.ok()) << f.error().message;
  for (int k = 0; k < 24; ++k) {
    EXPECT_NEAR(f->p50[k], 42.0, 1e-6);
    for (const auto& row : f->q) EXPECT_NEAR(row[k], 42.0, 1e-6);
  }
  EXPECT_NEAR(ProbExceed(*f, 43.0), 0.0, 1e-9);
  EXPECT_NEAR(ProbExceed(*f, 41.0), 1.0, 1e-9);
}

TEST(Forecast, LinearTrendIsNearlyExact) {
  std::vector<double> y(300);
  for (int t = 0; t < 300; ++t) y[t] = 100 + 2 * t;
  auto f = Forecast(y, Cfg(12, {}));
  ASSERT_TRUE(f.ok()) << f.error().message;
  for (int k = 0; k < 12; ++k)
    EXPECT_NEAR(f->p50[k], 100 + 2 * (300 + k), 0.02 * (100 + 2 * (300 + k))) << f->model;
}

TEST(Forecast, PureSeasonalWaveIsNearlyExact) {
  std::mt19937 rng(1);
  auto y = Seasonal(24 * 14, 24, 100, 40, 0, rng);
  auto f = Forecast(y, Cfg(48, {24}));
  ASSERT_TRUE(f.ok());
  for (int k = 0; k < 48; ++k)
    EXPECT_NEAR(f->p50[k], 100 + 40 * std::sin(2 * M_PI * (24 * 14 + k) / 24), 1.0);
}

TEST(Forecast, QuantilesMonotoneBandsWidenAndReproducible) {
  std::mt19937 rng(2);
  std::vector<double> y = Seasonal(24 * 20, 24, 100, 30, 5, rng);
  // Add a random walk so uncertainty genuinely grows with the horizon.
  double rw = 0;
  std::normal_distribution<double> nd(0, 2);
  for (auto& v : y) v += (rw += nd(rng));
  auto f = Forecast(y, Cfg(48, {24}));
  ASSERT_TRUE(f.ok());
  for (int k = 0; k < 48; ++k)
    for (size_t i = 1; i < f->q.size(); ++i) EXPECT_LE(f->q[i - 1][k], f->q[i][k]);
  const size_t lo = 0, hi = 3;  // 0.05 and 0.95
  EXPECT_GT(f->q[hi][47] - f->q[lo][47], f->q[hi][0] - f->q[lo][0]);
  for (int k = 1; k < 48; ++k) EXPECT_GE(f->scale[k], f->scale[k - 1]);
  auto g = Forecast(y, Cfg(48, {24}));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(f->model, g->model);
  EXPECT_EQ(f->p50, g->p50);
  EXPECT_EQ(f->q, g->q);
}

TEST(Forecast, NinetyPercentBandCalibratedOnNoisySeasonalData) {
  std::mt19937 rng(3);
  int covered = 0, total = 0, above99 = 0;
  for (int s = 0; s < 60; ++s) {
    const int n = 24 * 14, h = 24;
    auto all = Seasonal(n + h, 24, 200, 50, 8, rng);
    std::vector<double> y(all.begin(), all.begin() + n);
    auto f = Forecast(y, Cfg(h, {24}));
    ASSERT_TRUE(f.ok());
    for (int k = 0; k < h; ++k) {
      const double a = all[n + k];
      covered += a >= f->q[0][k] && a <= f->q[3][k];
      above99 += a > f->q[4][k];
      ++total;
    }
  }
  const double cov = static_cast<double>(covered) / total;
  RecordProperty("coverage90", std::to_string(cov));
  EXPECT_GE(cov, 0.87);
  EXPECT_LE(cov, 0.93);
  EXPECT_LE(static_cast<double>(above99) / total, 0.025);
}

TEST(Forecast, BadInputGetsErrorOrDocumentedFallback) {
  EXPECT_FALSE(Forecast({}, Cfg(5, {})).ok());
  auto allbad = Forecast({NAN, INFINITY, -1.0}, Cfg(5, {}));
  ASSERT_FALSE(allbad.ok());
  EXPECT_NE(allbad.error().message.find("series"), std::string::npos);
  auto h0 = Forecast({1, 2, 3}, Cfg(0, {}));
  ASSERT_FALSE(h0.ok());
  EXPECT_NE(h0.error().message.find("horizon"), std::string::npos);
  auto badq = Forecast({1, 2, 3}, Cfg(3, {}, {0.5, 1.0}));
  ASSERT_FALSE(badq.ok());
  EXPECT_NE(badq.error().message.find("quantiles[1]"), std::string::npos);

  auto one = Forecast({7.0}, Cfg(4, {24}));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->model, "fallback:naive");
  EXPECT_FALSE(one->note.empty());
  for (double v : one->p50) EXPECT_NEAR(v, 7.0, 1e-9);

  auto mixed = Forecast({5, NAN, 5, INFINITY, -3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, Cfg(3, {}));
  ASSERT_TRUE(mixed.ok());
  for (double v : mixed->p50) EXPECT_NEAR(v, 5.0, 1e-6);
  EXPECT_EQ(mixed->clean.missing_filled, 3);

  std::vector<double> huge(100);
  for (int t = 0; t < 100; ++t) huge[t] = 1e300 * (1 + 0.1 * std::sin(t));
  auto hf = Forecast(huge, Cfg(5, {}));
  ASSERT_TRUE(hf.ok());
  for (const auto& row : hf->q)
    for (double v : row) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(hf->p50[0] / 1e300, 1.0, 0.2);
  EXPECT_GE(ProbExceed(*hf, 1e308), 0.0);
}

TEST(Forecast, UnorderedDuplicatedTimestampsViaBucketize) {
  std::vector<Sample> s;
  for (int t = 99; t >= 0; --t) s.push_back({t * 60, 10.0 + (t % 2)});
  s.push_back({30 * 60, 10.5});  // duplicate bucket
  auto b = Bucketize(s, 60);
  ASSERT_TRUE(b.ok());
  auto f = Forecast(b->values, Cfg(4, {}));
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->p50[0], 10.5, 0.6);
}

TEST(Forecast, SpikeAndOutageDoNotDistortForecast) {
  std::mt19937 rng(4);
  auto clean = Seasonal(24 * 14, 24, 100, 30, 2, rng);
  auto dirty = clean;
  dirty[24 * 13 + 5] = 5000;                                      // spike in the last day
  for (int t = 24 * 12 + 3; t < 24 * 12 + 13; ++t) dirty[t] = 0;  // 10-hour outage
  for (int t = 24 * 11; t < 24 * 11 + 4; ++t) dirty[t] = NAN;     // gap
  auto a = Forecast(clean, Cfg(24, {24}));
  auto b = Forecast(dirty, Cfg(24, {24}));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GE(b->clean.outliers_clipped + b->clean.missing_filled, 15);
  for (int k = 0; k < 24; ++k) EXPECT_NEAR(b->p50[k], a->p50[k], 8.0) << k;
  EXPECT_LT(b->q[4][0], 200.0);  // the spike did not blow up the p99 band
}

TEST(Forecast, ProbExceedMonotoneAndConsistentWithQuantiles) {
  std::mt19937 rng(5);
  auto y = Seasonal(24 * 14, 24, 100, 30, 5, rng);
  auto f = Forecast(y, Cfg(24, {24}));
  ASSERT_TRUE(f.ok());
  double prev = 1.0;
  for (double cap = 0; cap <= 300; cap += 10) {
    const double p = ProbExceed(*f, cap);
    EXPECT_LE(p, prev + 1e-12);
    EXPECT_GE(p, 0.0);
    prev = p;
  }
  // Capacity at the peak step's p90: the max over the horizon is at least 10%.
  size_t peak = 0;
  for (size_t k = 0; k < 24; ++k)
    if (f->q[2][k] > f->q[2][peak]) peak = k;
  const double p = ProbExceed(*f, f->q[2][peak]);
  EXPECT_GE(p, 0.09);
  EXPECT_LE(p, 0.6);
  EXPECT_LT(ProbExceed(*f, 1000), 0.01);
  EXPECT_GT(ProbExceed(*f, 50), 0.99);
}

TEST(Forecast, EventsMultiplyAffectedSteps) {
  auto f = Forecast(std::vector<double>(100, 10.0), Cfg(6, {}));
  ASSERT_TRUE(f.ok());
  auto n = ApplyEvents(*f, 1000, 60, {{"promo", 1000 + 120, 120, 3.0}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_NEAR(f->p50[1], 10.0, 1e-9);
  EXPECT_NEAR(f->p50[2], 30.0, 1e-9);
  EXPECT_NEAR(f->p50[3], 30.0, 1e-9);
  EXPECT_NEAR(f->p50[4], 10.0, 1e-9);
  EXPECT_GT(ProbExceed(*f, 20), 0.99);
  auto bad = ApplyEvents(*f, 0, 60, {{"x", 0, 0, 2.0}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("events[0].duration"), std::string::npos);
  EXPECT_FALSE(ApplyEvents(*f, 0, 60, {{"x", 0, 60, NAN}}).ok());
}

TEST(ParseModelKind, NamesAndErrors) {
  EXPECT_EQ(ParseModelKind("mstl").value(), ModelKind::kMstl);
  EXPECT_EQ(ParseModelKind("ar").value(), ModelKind::kAr);
  EXPECT_EQ(ModelKindName(ModelKind::kAr), "ar");
  auto r = ParseModelKind("prophet");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("model"), std::string::npos);
}

}  // namespace
}  // namespace shardcast::predictor
