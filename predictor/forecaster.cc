// Forecast(): the pipeline, stage by stage (prepare the series, choose
// backtest origins, run the candidate models, select by backtest MAE, then
// calibrate the bands in calibration.cc), and what reads its result
// (ProbExceed, ApplyEvents). CleanSeries is in clean.cc.
#include "predictor/forecaster.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "predictor/forecast_internal.h"
#include "predictor/models.h"

namespace shardcast::predictor {

using internal::kMinEmpirical;
using internal::Median;
using internal::ZQuantile;

namespace {

// The series as the models see it.
struct Series {
  std::vector<double> x;    // cleaned (or the finite values), divided by s0
  std::vector<double> obs;  // observed values aligned with x, divided by s0; NaN = not scored
  double s0 = 1;            // robust scale
  int n = 0;                // x.size()
  int m = 1;                // shortest season > 1 (1 = none)
  std::vector<int> usable;  // seasons the data can support, ascending
  int m_eff = 1;            // shortest usable season (1 = none)
  int longest = 1;          // longest usable season (1 = none)
  int min_train = 8;        // shortest prefix a backtest origin may have
};

// Seasons > 1, ascending.
std::vector<int> SeasonsOf(const ForecastConfig& cfg) {
  std::vector<int> seasons;
  for (int s : cfg.seasons)
    if (s > 1) seasons.push_back(s);
  std::sort(seasons.begin(), seasons.end());
  return seasons;
}

// The observed values aligned with x (leading gaps dropped), for scoring
// the backtest: errors are measured against what was really observed
// (spikes included, gaps and outage runs excluded) so the bands reflect
// real-world tails while the point forecast is fitted on cleaned data.
std::vector<double> AlignObserved(const std::vector<double>& y_in, const std::vector<double>& x,
                                  double s0, bool clean) {
  const int n = static_cast<int>(x.size());
  std::vector<double> obs;
  size_t first = 0;
  while (first < y_in.size() && !(std::isfinite(y_in[first]) && (!clean || y_in[first] >= 0)))
    ++first;
  for (size_t i = first; i < y_in.size(); ++i) {
    const double vv = y_in[i];
    obs.push_back(std::isfinite(vv) && (!clean || vv >= 0) ? vv / s0 : std::nan(""));
  }
  if (static_cast<int>(obs.size()) != n) obs = x;  // clean=false drops non-finite values
  for (int t = 0; t < n; ++t) {
    // Outage runs that cleaning filled (zeros far from the cleaned value) are not scored.
    if (obs[t] == 0 && x[t] != 0) obs[t] = std::nan("");
  }
  return obs;
}

// Cleaning, normalisation by a robust scale (so that huge (1e300) or tiny
// values are safe), the observed values, and the periods the data supports.
Result<Series> PrepareSeries(const std::vector<double>& y_in, const ForecastConfig& cfg,
                             CleanReport* clean) {
  Series s;
  const std::vector<int> seasons = SeasonsOf(cfg);
  s.m = seasons.empty() ? 1 : seasons.front();
  if (cfg.clean) {
    s.x = CleanSeries(y_in, s.m, clean);
  } else {
    for (double vv : y_in)
      if (std::isfinite(vv)) s.x.push_back(vv);
  }
  if (s.x.empty())
    return unexpected(Error{"series: no finite, non-negative value to forecast from"});
  std::vector<double> absx;
  for (double vv : s.x) absx.push_back(std::fabs(vv));
  double s0 = Median(absx);
  if (!(s0 > 0)) s0 = *std::max_element(absx.begin(), absx.end());
  if (!(s0 > 0) || !std::isfinite(s0)) s0 = 1;
  for (auto& vv : s.x) vv /= s0;
  s.s0 = s0;
  s.n = static_cast<int>(s.x.size());
  s.obs = AlignObserved(y_in, s.x, s0, cfg.clean);
  for (int p : seasons)
    if (s.n >= 2 * p + 2) s.usable.push_back(p);
  s.m_eff = s.usable.empty() ? 1 : s.usable.front();
  s.longest = s.usable.empty() ? 1 : s.usable.back();
  s.min_train = std::max({8, 2 * s.longest + 2});
  return s;
}

// In-sample seasonal-naive MAE (MASE denominator), in original units.
double InsampleNaiveMae(const Series& s) {
  const int lag = (s.m > 1 && s.n > s.m) ? s.m : 1;
  double sum = 0;
  int c = 0;
  for (int t = lag; t < s.n; ++t) sum += std::fabs(s.x[t] - s.x[t - lag]), ++c;
  return c ? sum / c * s.s0 : 0;
}

// Backtest origins: up to `max_origins` prefix lengths evenly spaced from
// min_train to the end of the series.
std::vector<int> BacktestOrigins(const Series& s, int max_origins) {
  std::vector<int> origins;
  if (s.n <= s.min_train || max_origins <= 0) return origins;
  const int o_start = s.min_train;
  const int o_end = s.n - 1;
  const int count = std::min(max_origins, o_end - o_start + 1);
  for (int i = 0; i < count; ++i) {
    const int o = count == 1
                      ? o_end
                      : o_start + static_cast<int>(std::llround(static_cast<double>(i) *
                                                                (o_end - o_start) / (count - 1)));
    if (origins.empty() || o > origins.back()) origins.push_back(o);
  }
  return origins;
}

// The models to compare: the ones `model` names (all for kAuto), or the
// fallback when the series is too short to fit and to backtest.
std::vector<ModelRun> CandidateRuns(const Series& s, ModelKind k, int h,
                                    const std::vector<int>& origins, std::string* note) {
  const std::vector<double>& x = s.x;
  const int m_eff = s.m_eff, longest = s.longest;
  std::vector<ModelRun> runs;
  if (s.n < 3 || origins.size() < 3) {
    ModelRun r = RunSeasonalNaive(x, m_eff, h, {});
    r.name = m_eff > 1 ? "fallback:snaive" : "fallback:naive";
    *note = "series too short (" + std::to_string(s.n) + " points) to fit and backtest; using " +
            (m_eff > 1 ? "seasonal naive" : "last value") + " with heuristic sqrt(h) bands";
    runs.push_back(std::move(r));
    return runs;
  }
  const bool positive = std::all_of(x.begin(), x.end(), [](double vv) { return vv > 0; });
  if (k == ModelKind::kAuto || k == ModelKind::kSeasonalNaive)
    runs.push_back(RunSeasonalNaive(x, m_eff, h, origins));
  if (k == ModelKind::kAuto && longest > m_eff) {
    runs.push_back(RunSeasonalNaive(x, longest, h, origins));
    runs.back().name = "snaive" + std::to_string(longest);
  }
  if (k == ModelKind::kNaive2) runs.push_back(RunNaive2(x, m_eff, h, origins));
  if (k == ModelKind::kAuto || k == ModelKind::kEts)
    runs.push_back(RunAutoEts(x, m_eff, h, origins));
  if (k == ModelKind::kAuto || k == ModelKind::kTheta)
    runs.push_back(RunTheta(x, m_eff, h, origins));
  if ((k == ModelKind::kAuto || k == ModelKind::kMstl) && !s.usable.empty()) {
    runs.push_back(RunMstl(x, s.usable, false, h, origins));
    if (positive) runs.push_back(RunMstl(x, s.usable, true, h, origins));
  } else if (k == ModelKind::kMstl) {
    runs.push_back(RunAutoEts(x, 1, h, origins));
  }
  if (k == ModelKind::kAuto || k == ModelKind::kAr)
    runs.push_back(RunSeasonalAr(x, s.usable, h, origins));
  return runs;
}

// Mean |error| of a run's backtest against x (infinity without errors).
double BacktestMae(const ModelRun& r, const std::vector<double>& x, const std::vector<int>& origins,
                   int h) {
  const int n = static_cast<int>(x.size());
  double s = 0;
  long c = 0;
  for (size_t i = 0; i < origins.size() && i < r.backtest.size(); ++i)
    for (int kk = 0; kk < h && origins[i] + kk < n; ++kk) {
      const double e = x[origins[i] + kk] - r.backtest[i][kk];
      s += std::fabs(e);
      ++c;
    }
  return c ? s / c : std::numeric_limits<double>::infinity();
}

// The run with the lowest backtest MAE; with `ensembles`, the equal-weight
// average of the best 2..5 runs where that is lower still.
ModelRun SelectModel(const std::vector<ModelRun>& runs, const std::vector<double>& x,
                     const std::vector<int>& origins, int h, bool ensembles, double* chosen_mae) {
  std::vector<std::pair<double, size_t>> scored;
  for (size_t i = 0; i < runs.size(); ++i) {
    double mae = BacktestMae(runs[i], x, origins, h);
    if (!std::isfinite(mae)) mae = std::numeric_limits<double>::max();
    bool finite = std::all_of(runs[i].forecast.begin(), runs[i].forecast.end(),
                              [](double vv) { return std::isfinite(vv); });
    if (!finite) mae = std::numeric_limits<double>::infinity();
    scored.push_back({mae, i});
  }
  std::sort(scored.begin(), scored.end());
  ModelRun chosen = runs[scored.front().second];
  *chosen_mae = scored.front().first;
  if (!ensembles || scored.size() < 3) return chosen;
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
    const double mae = BacktestMae(e, x, origins, h);
    if (mae < *chosen_mae) chosen = std::move(e), *chosen_mae = mae;
  }
  return chosen;
}

// Backtest errors of the chosen run against the observed values, [origin][step].
std::vector<std::vector<double>> BacktestErrors(const ModelRun& chosen, const Series& s,
                                                const std::vector<int>& origins, int h) {
  std::vector<std::vector<double>> err(origins.size(), std::vector<double>(h, std::nan("")));
  for (size_t i = 0; i < chosen.backtest.size(); ++i)
    for (int kk = 0; kk < h && origins[i] + kk < s.n; ++kk)
      err[i][kk] = s.obs[origins[i] + kk] - chosen.backtest[i][kk];
  return err;
}

// Back to original units: point, scale and the requested quantiles
// (non-decreasing across levels) plus the median.
void FillBands(ForecastResult& res, const std::vector<double>& forecast,
               const std::vector<double>& scale, double s0, const std::vector<double>& quantiles) {
  const int h = static_cast<int>(scale.size());
  res.point.resize(h);
  res.scale.resize(h);
  for (int kk = 0; kk < h; ++kk) {
    res.point[kk] = forecast[kk] * s0;
    res.scale[kk] = scale[kk] * s0;
  }
  res.quantiles = quantiles;
  res.q.assign(quantiles.size(), std::vector<double>(h));
  res.p50.resize(h);
  for (int kk = 0; kk < h; ++kk) {
    double prev = -std::numeric_limits<double>::infinity();
    for (size_t qi = 0; qi < quantiles.size(); ++qi) {
      prev = std::max(prev, res.Quantile(quantiles[qi], kk));
      res.q[qi][kk] = prev;
    }
    res.p50[kk] = res.Quantile(0.5, kk);
  }
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
  return unexpected(
      Error{"model: unknown model '" + s + "' (want auto|snaive|ets|mstl|theta|naive2|ar)"});
}

std::string ModelKindName(ModelKind k) {
  switch (k) {
    case ModelKind::kAuto:
      return "auto";
    case ModelKind::kSeasonalNaive:
      return "snaive";
    case ModelKind::kEts:
      return "ets";
    case ModelKind::kMstl:
      return "mstl";
    case ModelKind::kTheta:
      return "theta";
    case ModelKind::kNaive2:
      return "naive2";
    case ModelKind::kAr:
      return "ar";
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
  auto series = PrepareSeries(y_in, cfg, &res.clean);
  if (!series) return unexpected(series.error());
  const Series& s = *series;
  res.insample_naive_mae = InsampleNaiveMae(s);
  const std::vector<int> origins = BacktestOrigins(s, cfg.max_backtest_origins);
  const std::vector<ModelRun> runs = CandidateRuns(s, cfg.model, h, origins, &res.note);
  double chosen_mae = 0;
  ModelRun chosen = SelectModel(runs, s.x, origins, h, cfg.model == ModelKind::kAuto, &chosen_mae);
  res.model = chosen.name;
  res.backtest_mae = std::isfinite(chosen_mae) ? chosen_mae * s.s0 : 0;
  for (auto& vv : chosen.forecast)
    if (!std::isfinite(vv)) vv = s.x.back();
  const auto err = BacktestErrors(chosen, s, origins, h);
  const std::vector<double> scale = internal::ErrorScale(err, s.x, h);
  internal::PoolErrors(err, scale, res);
  internal::ApplyShiftAllowance(res);
  std::sort(res.z.begin(), res.z.end());
  FillBands(res, chosen.forecast, scale, s.s0, cfg.quantiles);
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
    const size_t above =
        static_cast<size_t>(f.z.end() - std::upper_bound(f.z.begin(), f.z.end(), u));
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
  if (f.paths.size() < 10)
    return std::min(1.0, std::max(pmax, std::min(1.0, psum) * 0.5 + pmax * 0.5));
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

Result<int> ApplyEvents(ForecastResult& f, int64_t origin, int64_t step,
                        const std::vector<LoadEvent>& events) {
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
