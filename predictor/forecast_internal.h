// Internal to predictor/: the statistics and calibration stages Forecast()
// shares between forecaster.cc (the pipeline), clean.cc and calibration.cc.
// Not part of the public API.
#pragma once

#include <cstddef>
#include <vector>

#include "predictor/forecaster.h"

namespace shardcast::predictor::internal {

constexpr size_t kMinEmpirical = 30;  // fewer pooled errors: Gaussian quantiles

double Median(std::vector<double> v);
// Inverse standard normal CDF (Acklam's rational approximation).
double NormInv(double p);
// Quantile p of the sorted normalised errors z (see calibration.cc).
double ZQuantile(const std::vector<double>& z, double p);

// ---- calibration.cc: from the chosen model's backtest errors to bands ----

// Per-step error scale (robust, smoothed, non-decreasing; sqrt(k)
// extrapolation past the last step with errors, or a heuristic from the
// one-step changes of `x` when there are none). err is [origin][step].
std::vector<double> ErrorScale(const std::vector<std::vector<double>>& err,
                               const std::vector<double>& x, int h);
// Appends the normalised errors err / scale to res.z (unsorted) and their
// paths (origins with at least one error) to res.paths.
void PoolErrors(const std::vector<std::vector<double>>& err, const std::vector<double>& scale,
                ForecastResult& res);
// Shift allowance from the nested backtest: sets res.z_multiplier and
// scales res.z and res.paths by it.
void ApplyShiftAllowance(ForecastResult& res);

}  // namespace shardcast::predictor::internal
