#include "predictor/forecaster.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "predictor/models.h"

namespace shardcast::predictor {

namespace {

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

// Inverse standard normal CDF (Acklam's rational approximation).
double NormInv(double p) {
  p = std::clamp(p, 1e-12, 1 - 1e-12);
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
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

constexpr size_t kMinEmpirical = 30;  // fewer pooled errors: Gaussian quantiles
constexpr double kClip = 12.0;  // robust sigmas for the outlier rule
// Coverage the nominal 90% band must reach on the newer backtest origins
// (slightly above 0.9: the future drifts further from the calibration set).
constexpr double kCheckCoverage = 0.93;

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

}  // namespace

Result<ModelKind> ParseModelKind(const std::string& s) {
  if (s == "auto") return ModelKind::kAuto;
  if (s == "snaive") return ModelKind::kSeasonalNaive;
  if (s == "ets") return ModelKind::kEts;
  if (s == "mstl") return ModelKind::kMstl;
  if (s == "theta") return ModelKind::kTheta;
  if (s == "naive2") return ModelKind::kNaive2;
  if (s == "ar") return ModelKind::kAr;
  return unexpected(Error{"model: unknown model '" + s + "' (want auto|snaive|ets|mstl|theta|naive2|ar)"});
}

std::string ModelKindName(ModelKind k) {
  switch (k) {
    case ModelKind::kAuto: return "auto";
    case ModelKind::kSeasonalNaive: return "snaive";
    case ModelKind::kEts: return "ets";
    case ModelKind::kMstl: return "mstl";
    case ModelKind::kTheta: return "theta";
    case ModelKind::kNaive2: return "naive2";
    case ModelKind::kAr: return "ar";
  }
  return "?";
}

Result<void> ValidateConfig(const ForecastConfig& c) {
  if (c.horizon < 1 || c.horizon > 10000)
    return unexpected(Error{"horizon: must be in 1..10000, got " + std::to_string(c.horizon)});
  for (size_t i = 0; i < c.seasons.size(); ++i)
    if (c.seasons[i] < 1 || c.seasons[i] > 100000)
      return unexpected(Error{"seasons[" + std::to_string(i) + "]: must be in 1..100000"});
  if (c.quantiles.empty()) return unexpected(Error{"quantiles: at least one level is required"});
  for (size_t i = 0; i < c.quantiles.size(); ++i)
    if (!(c.quantiles[i] > 0 && c.quantiles[i] < 1))
      return unexpected(Error{"quantiles[" + std::to_string(i) + "]: must be in (0, 1)"});
  if (c.max_backtest_origins < 0 || c.max_backtest_origins > 10000)
    return unexpected(Error{"max_backtest_origins: must be in 0..10000"});
  return {};
}

std::vector<double> CleanSeries(const std::vector<double>& y_in, int m, CleanReport* rep) {
  CleanReport scratch;
  CleanReport& r = rep ? *rep : scratch;
  std::vector<double> y(y_in);
  for (auto& v : y)
    if (!std::isfinite(v) || v < 0) {
      v = std::nan("");
      r.missing_filled++;
    }
  // Drop leading and trailing... leading NaNs only (trailing ones are filled below).
  size_t first = 0;
  while (first < y.size() && std::isnan(y[first])) ++first;
  if (first == y.size()) return {};
  r.missing_filled -= static_cast<int>(first);
  y.erase(y.begin(), y.begin() + static_cast<std::ptrdiff_t>(first));
  const size_t n = y.size();
  // Outages: runs of >= 3 exact zeros when the series is mostly positive.
  {
    std::vector<double> fin;
    size_t zeros = 0;
    for (double v : y)
      if (!std::isnan(v)) {
        fin.push_back(v);
        zeros += v == 0;
      }
    if (Median(fin) > 0 && zeros * 5 < fin.size()) {
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
  }
  // Fill gaps: previous season when available, else linear interpolation
  // (trailing gaps: carry the last value).
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
    for (size_t k = i; k < j; ++k) y[k] = a + (b - a) * static_cast<double>(k - i + 1) / static_cast<double>(j - i + 1);
    i = j - 1;
  }
  // Hampel-style clipping. A point is an outlier only if it is far (kClip
  // robust sigmas) from BOTH its temporal neighbourhood (median of the
  // 7-point window) and, when seasonal, from the same phase in the 3
  // cycles either side. Genuine level shifts agree with their neighbours
  // and are kept; isolated spikes (up to 3 points wide) are clipped to the
  // seasonal (else local) baseline.
  const bool seasonal = m > 1 && n >= static_cast<size_t>(3 * m);
  auto robust_sigma = [&](const std::vector<double>& r, double& center) {
    center = Median(r);
    std::vector<double> a(r.size());
    for (size_t t = 0; t < r.size(); ++t) a[t] = std::fabs(r[t] - center);
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
  if (n >= 8) {
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
  return y;
}

double ForecastResult::Quantile(double level, size_t step) const {
  if (step >= point.size()) return std::nan("");
  return std::max(0.0, point[step] + scale[step] * ZQuantile(z, level));
}

Result<ForecastResult> Forecast(const std::vector<double>& y_in, const ForecastConfig& cfg_in) {
  auto v = ValidateConfig(cfg_in);
  if (!v) return unexpected(v.error());
  ForecastConfig cfg = cfg_in;
  std::sort(cfg.quantiles.begin(), cfg.quantiles.end());
  const int h = cfg.horizon;
  ForecastResult res;
  std::vector<int> seasons;
  for (int s : cfg.seasons)
    if (s > 1) seasons.push_back(s);
  std::sort(seasons.begin(), seasons.end());
  const int m = seasons.empty() ? 1 : seasons.front();

  std::vector<double> x;
  if (cfg.clean) {
    x = CleanSeries(y_in, m, &res.clean);
  } else {
    for (double vv : y_in)
      if (std::isfinite(vv)) x.push_back(vv);
  }
  if (x.empty()) return unexpected(Error{"series: no finite, non-negative value to forecast from"});
  // Normalise by a robust scale so that huge (1e300) or tiny values are safe.
  std::vector<double> absx;
  for (double vv : x) absx.push_back(std::fabs(vv));
  double s0 = Median(absx);
  if (!(s0 > 0)) s0 = *std::max_element(absx.begin(), absx.end());
  if (!(s0 > 0) || !std::isfinite(s0)) s0 = 1;
  for (auto& vv : x) vv /= s0;
  const int n = static_cast<int>(x.size());
  // The observed values aligned with x (leading gaps dropped), for scoring
  // the backtest: errors are measured against what was really observed
  // (spikes included, gaps and outage runs excluded) so the bands reflect
  // real-world tails while the point forecast is fitted on cleaned data.
  std::vector<double> obs;
  {
    size_t first = 0;
    while (first < y_in.size() && !(std::isfinite(y_in[first]) && (!cfg.clean || y_in[first] >= 0))) ++first;
    for (size_t i = first; i < y_in.size(); ++i) {
      const double vv = y_in[i];
      obs.push_back(std::isfinite(vv) && (!cfg.clean || vv >= 0) ? vv / s0 : std::nan(""));
    }
    if (static_cast<int>(obs.size()) != n) obs = x;  // clean=false drops non-finite values
    for (int t = 0; t < n; ++t) {
      // Outage runs that cleaning filled (zeros far from the cleaned value) are not scored.
      if (obs[t] == 0 && x[t] != 0) obs[t] = std::nan("");
    }
  }

  // In-sample seasonal-naive MAE (MASE denominator).
  {
    const int lag = (m > 1 && n > m) ? m : 1;
    double s = 0;
    int c = 0;
    for (int t = lag; t < n; ++t) s += std::fabs(x[t] - x[t - lag]), ++c;
    res.insample_naive_mae = c ? s / c * s0 : 0;
  }

  // Periods the data can support.
  std::vector<int> usable;
  for (int s : seasons)
    if (n >= 2 * s + 2) usable.push_back(s);
  const int m_eff = usable.empty() ? 1 : usable.front();
  const int longest = usable.empty() ? 1 : usable.back();
  const int min_train = std::max({8, 2 * longest + 2});

  // Backtest origins: evenly spaced over the last max(11 horizons, 3 longest
  // seasons) of the series.
  std::vector<int> origins;
  if (n > min_train && cfg.max_backtest_origins > 0) {
    const int o_start = min_train;
    const int o_end = n - 1;
    const int count = std::min(cfg.max_backtest_origins, o_end - o_start + 1);
    for (int i = 0; i < count; ++i) {
      const int o = count == 1 ? o_end : o_start + static_cast<int>(std::llround(static_cast<double>(i) * (o_end - o_start) / (count - 1)));
      if (origins.empty() || o > origins.back()) origins.push_back(o);
    }
  }

  std::vector<ModelRun> runs;
  if (n < 3 || origins.size() < 3) {
    // Fallback: too short to fit and to backtest.
    ModelRun r = RunSeasonalNaive(x, m_eff, h, {});
    r.name = m_eff > 1 ? "fallback:snaive" : "fallback:naive";
    res.note = "series too short (" + std::to_string(n) + " points) to fit and backtest; using " +
               (m_eff > 1 ? "seasonal naive" : "last value") + " with heuristic sqrt(h) bands";
    runs.push_back(std::move(r));
  } else {
    const bool positive = std::all_of(x.begin(), x.end(), [](double vv) { return vv > 0; });
    const ModelKind k = cfg.model;
    if (k == ModelKind::kAuto || k == ModelKind::kSeasonalNaive) runs.push_back(RunSeasonalNaive(x, m_eff, h, origins));
    if (k == ModelKind::kAuto && longest > m_eff) {
      runs.push_back(RunSeasonalNaive(x, longest, h, origins));
      runs.back().name = "snaive" + std::to_string(longest);
    }
    if (k == ModelKind::kNaive2) runs.push_back(RunNaive2(x, m_eff, h, origins));
    if (k == ModelKind::kAuto || k == ModelKind::kEts) runs.push_back(RunAutoEts(x, m_eff, h, origins));
    if (k == ModelKind::kAuto || k == ModelKind::kTheta) runs.push_back(RunTheta(x, m_eff, h, origins));
    if ((k == ModelKind::kAuto || k == ModelKind::kMstl) && !usable.empty()) {
      runs.push_back(RunMstl(x, usable, false, h, origins));
      if (positive) runs.push_back(RunMstl(x, usable, true, h, origins));
    } else if (k == ModelKind::kMstl) {
      runs.push_back(RunAutoEts(x, 1, h, origins));
    }
    if (k == ModelKind::kAuto || k == ModelKind::kAr) runs.push_back(RunSeasonalAr(x, usable, h, origins));
  }

  // Backtest MAE of every run (and of ensembles of the best ones).
  auto mae_of = [&](const ModelRun& r) {
    double s = 0;
    long c = 0;
    for (size_t i = 0; i < origins.size() && i < r.backtest.size(); ++i)
      for (int kk = 0; kk < h && origins[i] + kk < n; ++kk) {
        const double e = x[origins[i] + kk] - r.backtest[i][kk];
        s += std::fabs(e);
        ++c;
      }
    return c ? s / c : std::numeric_limits<double>::infinity();
  };
  std::vector<std::pair<double, size_t>> scored;
  for (size_t i = 0; i < runs.size(); ++i) {
    double mae = mae_of(runs[i]);
    if (!std::isfinite(mae)) mae = std::numeric_limits<double>::max();
    bool finite = std::all_of(runs[i].forecast.begin(), runs[i].forecast.end(), [](double vv) { return std::isfinite(vv); });
    if (!finite) mae = std::numeric_limits<double>::infinity();
    scored.push_back({mae, i});
  }
  std::sort(scored.begin(), scored.end());
  ModelRun chosen = runs[scored.front().second];
  double chosen_mae = scored.front().first;
  if (cfg.model == ModelKind::kAuto && scored.size() >= 3) {
    for (size_t top = 2; top <= std::min<size_t>(5, scored.size()); ++top) {
      ModelRun e;
      e.name = "ensemble(";
      e.forecast.assign(h, 0.0);
      e.backtest.assign(origins.size(), std::vector<double>(h, 0.0));
      for (size_t j = 0; j < top; ++j) {
        const ModelRun& r = runs[scored[j].second];
        e.name += (j ? "+" : "") + r.name;
        for (int kk = 0; kk < h; ++kk) e.forecast[kk] += r.forecast[kk] / top;
        for (size_t i = 0; i < origins.size(); ++i)
          for (int kk = 0; kk < h; ++kk) e.backtest[i][kk] += r.backtest[i][kk] / top;
      }
      e.name += ")";
      const double mae = mae_of(e);
      if (mae < chosen_mae) chosen = std::move(e), chosen_mae = mae;
    }
  }
  res.model = chosen.name;
  res.backtest_mae = std::isfinite(chosen_mae) ? chosen_mae * s0 : 0;
  for (auto& vv : chosen.forecast)
    if (!std::isfinite(vv)) vv = x.back();

  // Per-step error scale: RMS of backtest errors, made non-decreasing;
  // steps without backtest errors extrapolate with sqrt(k).
  std::vector<double> scale(h, std::nan(""));
  std::vector<std::vector<double>> err(origins.size(), std::vector<double>(h, std::nan("")));
  for (size_t i = 0; i < chosen.backtest.size(); ++i)
    for (int kk = 0; kk < h && origins[i] + kk < n; ++kk) err[i][kk] = obs[origins[i] + kk] - chosen.backtest[i][kk];
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
  // Pooled normalised errors and paths.
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
  // Shift allowance (nested backtest): the bands built from the older 60%
  // of the origins are checked on the newer 40%; the smallest multiplier
  // lambda in [0.7, 3] of the z quantiles that gives the nominal 90%
  // coverage there is applied to all z. This corrects for in-sample
  // fitting, model selection and drifting volatility without new data.
  res.z_multiplier = 1.0;
  if (res.paths.size() >= 10) {
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
    if (zc.size() >= kMinEmpirical && zv.size() >= 20) {
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
  }
  std::sort(res.z.begin(), res.z.end());
  // Back to original units.
  res.point.resize(h);
  res.scale.resize(h);
  for (int kk = 0; kk < h; ++kk) {
    res.point[kk] = chosen.forecast[kk] * s0;
    res.scale[kk] = scale[kk] * s0;
  }
  res.quantiles = cfg.quantiles;
  res.q.assign(cfg.quantiles.size(), std::vector<double>(h));
  res.p50.resize(h);
  for (int kk = 0; kk < h; ++kk) {
    double prev = -std::numeric_limits<double>::infinity();
    for (size_t qi = 0; qi < cfg.quantiles.size(); ++qi) {
      prev = std::max(prev, res.Quantile(cfg.quantiles[qi], kk));
      res.q[qi][kk] = prev;
    }
    res.p50[kk] = res.Quantile(0.5, kk);
  }
  return res;
}

double ProbExceed(const ForecastResult& f, double capacity, size_t steps) {
  const size_t H = steps == 0 ? f.point.size() : std::min(steps, f.point.size());
  if (H == 0 || std::isnan(capacity)) return 0.0;
  const size_t N = f.z.size();
  // Robust sigma of z for the Gaussian tail beyond the sample.
  double zsig = 1.0;
  if (N >= 2) {
    const double q1 = f.z[N / 4], q3 = f.z[(3 * N) / 4];
    zsig = std::max((q3 - q1) / 1.349, 1e-6);
  }
  auto marginal = [&](size_t k) -> double {
    const double sc = f.scale[k];
    if (!(sc > 0)) return f.point[k] > capacity ? 1.0 : 0.0;
    const double u = (capacity - f.point[k]) / sc;
    if (N < kMinEmpirical) return 0.5 * std::erfc(u / (std::sqrt(2.0) * (1.0 + 2.0 / (N + 1))));
    const size_t above = static_cast<size_t>(f.z.end() - std::upper_bound(f.z.begin(), f.z.end(), u));
    if (above > 0 && above < N) return static_cast<double>(above) / (N + 1);
    const double med = f.z[N / 2];
    if (above == N) {
      // Below the smallest observed error: one minus the Gaussian lower tail.
      return 1.0 - std::min(1.0 / (N + 1), 0.5 * std::erfc((med - u) / (std::sqrt(2.0) * zsig)));
    }
    // Beyond the largest observed error: Gaussian tail, capped by 1/(N+1).
    return std::min(1.0 / (N + 1), 0.5 * std::erfc((u - med) / (std::sqrt(2.0) * zsig)));
  };
  double pmax = 0, psum = 0;
  for (size_t k = 0; k < H; ++k) {
    const double p = marginal(k);
    pmax = std::max(pmax, p);
    psum += p;
  }
  if (f.paths.size() < 10) return std::min(1.0, std::max(pmax, std::min(1.0, psum) * 0.5 + pmax * 0.5));
  // Joint (max over the horizon) from historical error paths applied to the
  // current forecast; steps a path lacks are skipped.
  size_t hit = 0;
  for (const auto& path : f.paths) {
    for (size_t k = 0; k < H && k < path.size(); ++k) {
      if (std::isnan(path[k])) continue;
      if (f.point[k] + f.scale[k] * path[k] > capacity) {
        ++hit;
        break;
      }
    }
  }
  const double joint = static_cast<double>(hit) / (f.paths.size() + 1);
  return std::clamp(joint, pmax, std::min(1.0, psum));
}

Result<int> ApplyEvents(ForecastResult& f, int64_t origin, int64_t step, const std::vector<LoadEvent>& events) {
  if (step <= 0) return unexpected(Error{"step: must be > 0"});
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const std::string w = "events[" + std::to_string(i) + "]";
    if (!(std::isfinite(e.multiplier) && e.multiplier >= 0 && e.multiplier <= 1e6))
      return unexpected(Error{w + ".multiplier: must be a finite number in 0..1e6"});
    if (e.duration <= 0) return unexpected(Error{w + ".duration: must be > 0"});
  }
  int affected = 0;
  for (size_t k = 0; k < f.point.size(); ++k) {
    const int64_t b0 = origin + static_cast<int64_t>(k) * step, b1 = b0 + step;
    double mult = 1.0;
    for (const auto& e : events)
      if (b0 < e.start + e.duration && e.start < b1) mult *= e.multiplier;
    if (mult == 1.0) continue;
    ++affected;
    f.point[k] *= mult;
    f.scale[k] *= mult;
    f.p50[k] *= mult;
    for (auto& row : f.q) row[k] *= mult;
  }
  return affected;
}

}  // namespace shardcast::predictor
