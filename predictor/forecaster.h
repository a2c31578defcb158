// The forecaster: cleaning, model selection by rolling-origin backtest,
// conformal prediction quantiles per horizon step, probability of
// exceeding a capacity within the horizon, and scheduled load events.
// Pure: takes data, returns data. See docs/predictor.md for the methods.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/expected.h"

namespace shardcast::predictor {

enum class ModelKind { kAuto, kSeasonalNaive, kEts, kMstl, kTheta, kNaive2, kAr };

[[nodiscard]] Result<ModelKind> ParseModelKind(const std::string& s);
std::string ModelKindName(ModelKind k);

struct ForecastConfig {
  int horizon = 30;          // steps, 1..10000
  std::vector<int> seasons;  // seasonal periods in steps, e.g. {24, 168}; empty = none
  std::vector<double> quantiles{0.5, 0.9, 0.99};  // each in (0, 1)
  ModelKind model = ModelKind::kAuto;
  bool clean = true;  // Hampel/outage cleaning before fitting
  int max_backtest_origins = 100;
};

[[nodiscard]] Result<void> ValidateConfig(const ForecastConfig& c);

struct CleanReport {
  int missing_filled = 0;  // NaN / non-finite / negative values and outage runs filled
  int outliers_clipped = 0;
};

// Replaces non-finite and negative values by NaN, treats runs of >= 3
// exact zeros in an otherwise positive series as outages (NaN), fills NaNs
// (previous season, else linear interpolation; leading ones dropped) and
// clips isolated outliers: a point is clipped only when it is more than 12
// robust sigmas away from both the median of its 7-point window and (when
// seasonal) the median of the same phase in the 3 cycles either side; it
// is replaced by the seasonal (else local) median.
std::vector<double> CleanSeries(const std::vector<double>& y, int m, CleanReport* report = nullptr);

struct ForecastResult {
  std::string model;              // chosen model, e.g. "mstl[ets(A,Ad,N)]", or "fallback:naive"
  std::string note;               // why a fallback was used, if any
  std::vector<double> point;      // raw model forecast
  std::vector<double> quantiles;  // levels, ascending
  std::vector<std::vector<double>> q;      // [level][step]
  std::vector<double> scale;               // per-step error scale (non-decreasing)
  std::vector<double> z;                   // pooled normalised backtest errors, sorted
  std::vector<std::vector<double>> paths;  // normalised backtest error paths [origin][step]
  double z_multiplier = 1;                 // shift allowance from the nested backtest (see .cc)
  double backtest_mae = 0;                 // mean |error| over all backtest steps (original units)
  double insample_naive_mae = 0;           // mean |y_t - y_{t-m}| (MASE denominator)
  CleanReport clean;
  // Median forecast (the 0.5 quantile; computed if not requested).
  std::vector<double> p50;
  // The value of quantile level `level` at step (0-based). Interpolates in z.
  double Quantile(double level, size_t step) const;
};

// Forecasts `horizon` steps after the end of `y` (one value per step, NaN
// for gaps). Errors only for an invalid config or a series with no usable
// value; too-short series get a documented fallback (last value / seasonal
// naive with widening heuristic bands) and a note.
[[nodiscard]] Result<ForecastResult> Forecast(const std::vector<double>& y,
                                              const ForecastConfig& cfg);

// Probability that the load exceeds `capacity` at least once within the
// first `steps` steps (0 = whole horizon).
double ProbExceed(const ForecastResult& f, double capacity, size_t steps = 0);

// Scheduled event: from `start` for `duration` seconds load is multiplied.
struct LoadEvent {
  std::string name;
  int64_t start = 0;
  int64_t duration = 0;
  double multiplier = 1.0;
};

// Multiplies every quantile, point and scale of the steps whose bucket
// [origin + k*step, origin + (k+1)*step) (k = 0-based step) overlaps an
// event. `origin` is the start time of the first forecast bucket. Returns
// the number of steps affected. Errors name the bad field.
[[nodiscard]] Result<int> ApplyEvents(ForecastResult& f, int64_t origin, int64_t step,
                                      const std::vector<LoadEvent>& events);

}  // namespace shardcast::predictor
