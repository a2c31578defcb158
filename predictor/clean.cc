// CleanSeries: missing values, outage runs, gap filling and Hampel-style
// clipping of isolated outliers (see forecaster.h).
#include <algorithm>
#include <cmath>

#include "predictor/forecast_internal.h"
#include "predictor/forecaster.h"

namespace shardcast::predictor {
namespace {

using internal::Median;

constexpr double kClip = 12.0;  // robust sigmas for the outlier rule

// Outages: runs of >= 3 exact zeros when the series is mostly positive
// become NaN.
void MarkOutages(std::vector<double>& y, CleanReport& r) {
  const size_t n = y.size();
  std::vector<double> fin;
  size_t zeros = 0;
  for (double v : y)
    if (!std::isnan(v)) {
      fin.push_back(v);
      zeros += v == 0;
    }
  if (!(Median(fin) > 0 && zeros * 5 < fin.size())) return;
  for (size_t i = 0; i < n;) {
    if (y[i] == 0) {
      size_t j = i;
      while (j < n && y[j] == 0) ++j;
      if (j - i >= 3)
        for (size_t k = i; k < j; ++k) y[k] = std::nan(""), r.missing_filled++;
      i = j;
    } else {
      ++i;
    }
  }
}

// Fill gaps: previous season when available, else linear interpolation
// (trailing gaps: carry the last value). y[0] is finite.
void FillGaps(std::vector<double>& y, int m) {
  const size_t n = y.size();
  for (size_t i = 0; i < n; ++i) {
    if (!std::isnan(y[i])) continue;
    if (m > 1 && i >= static_cast<size_t>(m) && !std::isnan(y[i - m])) {
      y[i] = y[i - m];
      continue;
    }
    size_t j = i;
    while (j < n && std::isnan(y[j])) ++j;
    const double a = y[i - 1];  // i > 0: y[0] is finite
    const double b = j < n ? y[j] : a;
    for (size_t k = i; k < j; ++k)
      y[k] = a + (b - a) * static_cast<double>(k - i + 1) / static_cast<double>(j - i + 1);
    i = j - 1;
  }
}

// Hampel-style clipping. A point is an outlier only if it is far (kClip
// robust sigmas) from BOTH its temporal neighbourhood (median of the
// 7-point window) and, when seasonal, from the same phase in the 3
// cycles either side. Genuine level shifts agree with their neighbours
// and are kept; isolated spikes (up to 3 points wide) are clipped to the
// seasonal (else local) baseline.
void ClipOutliers(std::vector<double>& y, int m, CleanReport& r) {
  const size_t n = y.size();
  const bool seasonal = m > 1 && n >= static_cast<size_t>(3 * m);
  auto robust_sigma = [&](const std::vector<double>& res, double& center) {
    center = Median(res);
    std::vector<double> a(res.size());
    for (size_t t = 0; t < res.size(); ++t) a[t] = std::fabs(res[t] - center);
    std::vector<double> absy(n);
    for (size_t t = 0; t < n; ++t) absy[t] = std::fabs(y[t]);
    return std::max({1.4826 * Median(a), 1e-6 * Median(absy), 1e-300});
  };
  std::vector<double> local(n), phase(n), r_local(n), r_phase(n);
  std::vector<double> w;
  for (size_t t = 0; t < n; ++t) {
    w.clear();
    for (long j = static_cast<long>(t) - 3; j <= static_cast<long>(t) + 3; ++j)
      if (j >= 0 && j < static_cast<long>(n)) w.push_back(y[static_cast<size_t>(j)]);
    local[t] = Median(w);
    r_local[t] = y[t] - local[t];
    if (seasonal) {
      w.clear();
      for (int k = -3; k <= 3; ++k) {
        if (k == 0) continue;
        const long j = static_cast<long>(t) + static_cast<long>(k) * m;
        if (j >= 0 && j < static_cast<long>(n)) w.push_back(y[static_cast<size_t>(j)]);
      }
      phase[t] = Median(w);
      r_phase[t] = y[t] - phase[t];
    }
  }
  if (n < 8) return;
  double c_local = 0, c_phase = 0;
  const double s_local = robust_sigma(r_local, c_local);
  const double s_phase = seasonal ? robust_sigma(r_phase, c_phase) : 0;
  std::vector<double> out(y);
  for (size_t t = 0; t < n; ++t) {
    const bool far_local = std::fabs(r_local[t] - c_local) > kClip * s_local;
    const bool far_phase = !seasonal || std::fabs(r_phase[t] - c_phase) > kClip * s_phase;
    if (far_local && far_phase) {
      out[t] = seasonal ? phase[t] : local[t];
      r.outliers_clipped++;
    }
  }
  y = std::move(out);
}

}  // namespace

std::vector<double> CleanSeries(const std::vector<double>& y_in, int m, CleanReport* rep) {
  CleanReport scratch;
  CleanReport& r = rep ? *rep : scratch;
  std::vector<double> y(y_in);
  for (auto& v : y)
    if (!std::isfinite(v) || v < 0) {
      v = std::nan("");
      r.missing_filled++;
    }
  // Drop leading NaNs (trailing ones are filled below).
  size_t first = 0;
  while (first < y.size() && std::isnan(y[first])) ++first;
  if (first == y.size()) return {};
  r.missing_filled -= static_cast<int>(first);
  y.erase(y.begin(), y.begin() + static_cast<std::ptrdiff_t>(first));
  MarkOutages(y, r);
  FillGaps(y, m);
  ClipOutliers(y, m, r);
  return y;
}

}  // namespace shardcast::predictor
