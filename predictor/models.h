// Point-forecast models. Each model is fitted once on the whole series and
// then produces forecasts from the end of the series and from earlier
// "origins" with the fitted parameters (rolling-origin backtest without
// refitting). Inputs must be finite (see clean.h). Pure: no I/O.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace shardcast::predictor {

struct ModelRun {
  std::string name;
  std::vector<double> forecast;               // h steps after the end of the series
  std::vector<std::vector<double>> backtest;  // [origin][step], forecasts from y[0..origin)
  double aic = 0;                             // where meaningful
};

// Minimises f over R^d starting at x0 with initial simplex step `step`.
std::vector<double> NelderMead(const std::function<double(const std::vector<double>&)>& f,
                               std::vector<double> x0, double step, int max_evals,
                               double tol = 1e-8);

// 90% autocorrelation test at lag m (the M4 rule): true if seasonal.
bool SeasonalityTest(const std::vector<double>& y, int m);

// Classical multiplicative decomposition: seasonal indices (size m, mean 1).
// Returns all ones if m <= 1, the series is too short or not positive.
std::vector<double> ClassicalIndices(const std::vector<double>& y, int m);

// Model runners. `origins` are prefix lengths (each < y.size()).
ModelRun RunSeasonalNaive(const std::vector<double>& y, int m, int h,
                          const std::vector<int>& origins);
ModelRun RunNaive2(const std::vector<double>& y, int m, int h, const std::vector<int>& origins);
enum class EtsTrend { kNone, kDamped };
enum class EtsSeason { kNone, kAdditive, kMultiplicative };
// ETS with additive errors fitted by maximum likelihood (Gaussian errors:
// minimising the sum of squared one-step errors) with Nelder-Mead.
ModelRun RunEts(const std::vector<double>& y, int m, EtsTrend trend, EtsSeason season, int h,
                const std::vector<int>& origins);
// Best ETS by AICc among the variants allowed by the data.
ModelRun RunAutoEts(const std::vector<double>& y, int m, int h, const std::vector<int>& origins);
// MSTL-style: seasonal components for each period (cycle-subseries
// smoothing, iterated), ETS on the seasonally adjusted series; with
// log=true the decomposition is multiplicative (requires y > 0).
ModelRun RunMstl(const std::vector<double>& y, const std::vector<int>& periods, bool log, int h,
                 const std::vector<int>& origins);
// Theta method (SES with drift = half the regression slope) on the
// classically (multiplicatively) deseasonalised series when seasonal.
ModelRun RunTheta(const std::vector<double>& y, int m, int h, const std::vector<int>& origins);

// Seasonal autoregression on log(y) (log(y + c) when some y <= 0): least
// squares on lags 1, 2, 3 and, for every period p, p-1, p, p+1 and 2p (and
// 2p-1 for the shortest period), keeping lags below n/2; recursive
// multi-step forecasts, clamped to the observed log range +-1.
ModelRun RunSeasonalAr(const std::vector<double>& y, const std::vector<int>& periods, int h,
                       const std::vector<int>& origins);
// The lags RunSeasonalAr uses for a series of length n (exposed for tests).
std::vector<int> SeasonalArLags(const std::vector<int>& periods, int n);

}  // namespace shardcast::predictor
