// Calibration: the error scale per horizon step, the pooled normalised
// backtest errors (conformal quantiles) and the shift allowance.
#include <algorithm>
#include <cmath>

#include "predictor/forecast_internal.h"

namespace shardcast::predictor::internal {
namespace {

// Coverage the nominal 90% band must reach on the newer backtest origins
// (slightly above 0.9: the future drifts further from the calibration set).
constexpr double kCheckCoverage = 0.93;

}  // namespace

double Median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

double NormInv(double p) {
  p = std::clamp(p, 1e-12, 1 - 1e-12);
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double pl = 0.02425;
  if (p < pl) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - pl) {
    const double q = std::sqrt(-2 * std::log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Quantile of the normalised error distribution. Split-conformal style:
// the ceil((N+1)p)-th order statistic; beyond the sample, Gaussian tail
// extrapolation anchored at the most extreme order statistic.
double ZQuantile(const std::vector<double>& z, double p) {
  const size_t n = z.size();
  if (n < kMinEmpirical) return NormInv(p) * (1.0 + 2.0 / static_cast<double>(n + 1));
  if (p >= 0.5) {
    const double r = std::ceil((n + 1) * p);  // 1-based rank
    if (r <= n) {
      // Interpolate between neighbouring ranks for a smooth quantile function.
      const double pos = std::max(0.0, (n + 1) * p - 1.0);
      const size_t i = std::min(static_cast<size_t>(pos), n - 1);
      const double frac = std::min(1.0, pos - static_cast<double>(i));
      const double lo = z[i], hi = z[std::min(i + 1, n - 1)];
      return lo + frac * (hi - lo);
    }
    const double pmax = static_cast<double>(n) / (n + 1);
    const double anchor = z[n - 1];
    const double ratio = NormInv(p) / std::max(NormInv(pmax), 1e-9);
    return std::max(anchor, anchor * ratio);
  }
  const double pos = (n + 1) * p - 1.0;
  if (pos < 0) {
    const double pmin = 1.0 / (n + 1);
    const double anchor = z[0];
    const double ratio = NormInv(p) / std::min(NormInv(pmin), -1e-9);
    return std::min(anchor, anchor * ratio);
  }
  const size_t i = std::min(static_cast<size_t>(pos), n - 1);
  const double frac = pos - static_cast<double>(i);
  return z[i] + frac * (z[std::min(i + 1, n - 1)] - z[i]);
}

std::vector<double> ErrorScale(const std::vector<std::vector<double>>& err,
                               const std::vector<double>& x, int h) {
  const int n = static_cast<int>(x.size());
  std::vector<double> scale(h, std::nan(""));
  // Robust per-step scale: 1.4826 x median |error| (spikes must not inflate
  // it; they show up in the tails of z instead), smoothed over +-2 steps.
  int last_k = -1;
  std::vector<double> raw_scale(h, std::nan(""));
  for (int kk = 0; kk < h; ++kk) {
    std::vector<double> a;
    for (auto& row : err)
      if (!std::isnan(row[kk])) a.push_back(std::fabs(row[kk]));
    if (a.size() >= 3) {
      const double med = Median(a);
      double mean = 0;
      for (double vv : a) mean += vv / static_cast<double>(a.size());
      // Mean |e| as a floor keeps the scale positive when most errors are 0.
      raw_scale[kk] = std::max(1.4826 * med, 0.5 * mean);
      last_k = kk;
    }
  }
  for (int kk = 0; kk <= last_k; ++kk) {
    double s = 0;
    int c = 0;
    for (int j = std::max(0, kk - 2); j <= std::min(last_k, kk + 2); ++j)
      if (!std::isnan(raw_scale[j])) s += raw_scale[j], ++c;
    if (c) scale[kk] = s / c;
    if (!std::isnan(scale[kk])) last_k = std::max(last_k, kk);
  }
  double floor_scale = 1e-9;
  if (last_k < 0) {
    // No usable backtest: heuristic from the one-step changes of the data.
    double s = 0;
    int c = 0;
    for (int t = 1; t < n; ++t) s += std::fabs(x[t] - x[t - 1]), ++c;
    const double base = c ? std::max(s / c, 0.05 * std::fabs(x.back())) : 0.1 * std::fabs(x.back());
    for (int kk = 0; kk < h; ++kk) scale[kk] = base * std::sqrt(kk + 1.0);
  } else {
    double run = floor_scale;
    for (int kk = 0; kk < h; ++kk) {
      if (kk > last_k || std::isnan(scale[kk]))
        scale[kk] = std::max(run, scale[last_k] * std::sqrt((kk + 1.0) / (last_k + 1.0)));
      run = std::max(run, scale[kk]);
      scale[kk] = run;
    }
  }
  return scale;
}

void PoolErrors(const std::vector<std::vector<double>>& err, const std::vector<double>& scale,
                ForecastResult& res) {
  const int h = static_cast<int>(scale.size());
  for (size_t i = 0; i < err.size(); ++i) {
    std::vector<double> path(h, std::nan(""));
    bool any = false;
    for (int kk = 0; kk < h; ++kk)
      if (!std::isnan(err[i][kk])) {
        const double zz = err[i][kk] / scale[kk];
        res.z.push_back(zz);
        path[kk] = zz;
        any = true;
      }
    if (any) res.paths.push_back(std::move(path));
  }
}

// Shift allowance (nested backtest): the bands built from the older 60%
// of the origins are checked on the newer 40%; the smallest multiplier
// lambda in [0.7, 3] of the z quantiles that gives the nominal 90%
// coverage there is applied to all z. This corrects for in-sample
// fitting, model selection and drifting volatility without new data.
void ApplyShiftAllowance(ForecastResult& res) {
  res.z_multiplier = 1.0;
  if (res.paths.size() < 10) return;
  const size_t split = res.paths.size() * 6 / 10;
  std::vector<double> zc;
  for (size_t i = 0; i < split; ++i)
    for (double zz : res.paths[i])
      if (!std::isnan(zz)) zc.push_back(zz);
  std::sort(zc.begin(), zc.end());
  std::vector<double> zv;
  for (size_t i = split; i < res.paths.size(); ++i)
    for (double zz : res.paths[i])
      if (!std::isnan(zz)) zv.push_back(zz);
  if (zc.size() < kMinEmpirical || zv.size() < 20) return;
  const double lo = ZQuantile(zc, 0.05), hi = ZQuantile(zc, 0.95);
  double lambda = 3.0;
  for (double l = 0.7; l <= 3.0 + 1e-9; l += 0.05) {
    size_t cov = 0;
    for (double zz : zv) cov += zz >= l * lo && zz <= l * hi;
    if (static_cast<double>(cov) >= kCheckCoverage * static_cast<double>(zv.size())) {
      lambda = l;
      break;
    }
  }
  res.z_multiplier = lambda;
  for (auto& zz : res.z) zz *= lambda;
  for (auto& path : res.paths)
    for (auto& zz : path) zz *= lambda;
}

}  // namespace shardcast::predictor::internal
