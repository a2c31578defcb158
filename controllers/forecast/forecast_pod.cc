#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "controllers/forecast/series_prep.h"
#include "controllers/forecast/state.h"
#include "predictor/profile.h"

namespace shardcast::forecast {
namespace {

using internal::Prepared;

// Adaptive band calibration (see Series::band_scale): a miss multiplies the
// scale by exp(0.9 x gamma), a hit by exp(-0.1 x gamma); at a 10% miss rate
// it stands still.
constexpr double kBandGamma = 0.3;
constexpr double kBandScaleMin = 0.5;
constexpr double kBandScaleMax = 4.0;

predictor::ForecastResult Slice(const predictor::ForecastResult& f, size_t k0, size_t h) {
  predictor::ForecastResult g;
  g.model = f.model;
  g.note = f.note;
  g.quantiles = f.quantiles;
  g.z = f.z;
  g.z_multiplier = f.z_multiplier;
  g.backtest_mae = f.backtest_mae;
  g.insample_naive_mae = f.insample_naive_mae;
  auto cut = [&](const std::vector<double>& v) {
    std::vector<double> out;
    for (size_t k = k0; k < k0 + h && k < v.size(); ++k) out.push_back(v[k]);
    return out;
  };
  g.point = cut(f.point);
  g.scale = cut(f.scale);
  g.p50 = cut(f.p50);
  for (const auto& q : f.q) g.q.push_back(cut(q));
  for (const auto& p : f.paths) {
    if (p.size() > k0) g.paths.push_back(cut(p));
  }
  return g;
}

std::vector<int> SortedUnique(std::vector<int> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// The composed series of `ids` (sorted, unique) at the forecast step, when
// `have_scale` (a CPU per request is known, or none is needed), every range
// was sampled lately and the series holds enough history; otherwise nullopt
// and `why` says which of these failed.
std::optional<Prepared> ComposeOwnedRanges(const std::map<int, Series>& ranges,
                                           const std::vector<int>& ids, bool have_scale,
                                           const PolicySettings& policy, int64_t now,
                                           size_t max_points, size_t min_samples,
                                           std::string* why) {
  // Ranges sampled within the last 3 forecast steps (at least 15 minutes).
  const int64_t fresh_since = now - 3 * std::max<int64_t>(policy.step_seconds, 300);
  *why = "no CPU per request yet (no pod request rates)";
  auto c = have_scale
               ? internal::Compose(ranges, ids, policy.step_seconds, max_points, fresh_since, why)
               : std::nullopt;
  if (c) {
    // Enough composed history to judge it at once (the same bar as a
    // backfilled pod series, below), counting buckets with data only.
    const size_t present = static_cast<size_t>(
        std::count_if(c->y.begin(), c->y.end(), [](double v) { return std::isfinite(v); }));
    const size_t need = std::max<size_t>(min_samples, 1) + 32;
    if (present < need) {
      *why = "the ranges' history holds " + std::to_string(present) + " of " +
             std::to_string(need) + " steps";
      c.reset();
    }
  }
  return c;
}

// Matured one-step forecasts: compare with what was observed (recorded in
// the accuracy tracker, and the band scale adapted), then drop them.
void ScoreMaturedForecasts(Series& s, const Prepared& prep) {
  const int64_t step = prep.step;
  const size_t n = prep.y.size();
  for (auto it = s.pending.begin(); it != s.pending.end();) {
    if (it->bucket >= prep.origin) {
      ++it;
      continue;
    }
    int64_t idx = (it->bucket - prep.origin) / step + static_cast<int64_t>(n);
    if (idx >= 0 && idx < static_cast<int64_t>(n) && std::isfinite(prep.y[idx])) {
      const double actual = prep.y[idx];
      s.accuracy.Record(actual, it->p50, it->lo90, it->hi90);
      const bool covered = predictor::InBand90(actual, it->lo90, it->hi90);
      s.band_scale = std::clamp(s.band_scale * std::exp(kBandGamma * ((covered ? 0.0 : 1.0) - 0.1)),
                                kBandScaleMin, kBandScaleMax);
    }
    it = s.pending.erase(it);
  }
}

// The seasons (in steps) that `points` points of history can fit: a whole
// number of steps, from 2 to 100000 steps, and 2 periods + 2 points.
std::vector<int> SeasonPeriods(const std::vector<int64_t>& seasons_seconds, int64_t step,
                               size_t points) {
  std::vector<int> out;
  for (int64_t ss : seasons_seconds) {
    if (ss % step != 0) continue;
    int64_t p = ss / step;
    if (p >= 2 && p <= 100000 && static_cast<size_t>(2 * p + 2) <= points)
      out.push_back(static_cast<int>(p));
  }
  return out;
}

// Records each of the `held_out` newest buckets of `y` against the forecast
// `f` fitted on what precedes them, as the live path forecasts between
// refits: f's step plus the level correction from the up to 3 buckets
// before it.
void RecordHeldOut(predictor::AccuracyTracker& accuracy, const std::vector<double>& y,
                   size_t held_out, const predictor::ForecastResult& f, double level_correction) {
  const size_t m = y.size() - held_out;
  for (size_t k = 0; k < held_out; ++k) {
    double sum = 0;
    int cnt = 0;
    for (size_t j = 1; j <= std::min<size_t>(k, 3); ++j) {
      double actual = y[m + k - j], predicted = f.Quantile(0.5, k - j);
      if (std::isfinite(actual) && std::isfinite(predicted)) {
        sum += actual - predicted;
        ++cnt;
      }
    }
    const double delta = cnt > 0 ? level_correction * sum / cnt : 0.0;
    const double actual = y[m + k];
    if (!std::isfinite(actual)) continue;
    accuracy.Record(actual, std::max(0.0, f.Quantile(0.5, k) + delta),
                    std::max(0.0, f.Quantile(0.05, k) + delta),
                    std::max(0.0, f.Quantile(0.95, k) + delta));
  }
}

// A series with history but no verdict yet (a new operator process, a
// backfill) is judged on that history at once instead of after
// min_samples live steps: the newest M buckets are held out, the model is
// fitted on what precedes them, and each held-out bucket is forecast as the
// live path does between refits (the fit's step plus the level correction
// from the up to 3 buckets before it). Live records replace these as the
// tracker's window rolls. One extra fit per series and process.
void SeedAccuracy(Series& s, const Prepared& prep, const PolicySettings& policy,
                  const StateOptions& opts) {
  if (s.accuracy_seeded || s.accuracy.count() != 0) return;
  s.accuracy_seeded = true;
  const size_t n = prep.y.size();
  const size_t M = std::max<size_t>(opts.accuracy.min_samples, 1);
  if (n < M + 32) return;
  const size_t m = n - M;
  predictor::ForecastConfig sc;
  sc.horizon = static_cast<int>(M);
  sc.seasons = SeasonPeriods(policy.seasons_seconds, prep.step, m);
  sc.quantiles = {0.05, 0.5, 0.95};
  std::vector<double> head(prep.y.begin(), prep.y.begin() + static_cast<std::ptrdiff_t>(m));
  auto f = predictor::Forecast(head, sc);
  if (f) RecordHeldOut(s.accuracy, prep.y, M, *f, opts.level_correction);
}

// The settings a fit is made with (step, horizon, seasons): another key
// needs a refit.
std::string FitKey(int64_t step, size_t horizon, const std::vector<int>& seasons) {
  std::string key = std::to_string(step) + "/" + std::to_string(horizon);
  for (int p : seasons) key += "," + std::to_string(p);
  return key;
}

// A longer season (weekly) that the forecast step's history cannot hold
// comes from the coarser history as a profile (predictor/profile.h);
// built at refits only (it becomes usable at a periodic refit). The coarse
// history is the pod's own, or the sum of `composed_ids`' when not empty.
std::optional<predictor::SeasonProfile> LongSeasonProfile(
    const predictor::History& hist, const std::map<int, Series>& ranges,
    const std::vector<int>& composed_ids, const std::vector<int64_t>& seasons_seconds,
    const std::vector<int>& seasons, int64_t step) {
  for (int64_t ss : seasons_seconds) {
    if (ss % step != 0 || std::find(seasons.begin(), seasons.end(), ss / step) != seasons.end())
      continue;
    auto coarse = composed_ids.empty() ? internal::CoarseLevel(hist, step, ss)
                                       : internal::ComposeCoarse(ranges, composed_ids, step, ss);
    if (!coarse) continue;
    auto pr = predictor::SeasonalProfile(*coarse, ss);
    if (!pr) continue;
    return std::move(*pr);  // one profile (the first such season)
  }
  return std::nullopt;
}

// A new fit of `prep`, long enough to cover `horizon` steps until the next
// periodic refit.
Result<predictor::ForecastResult> Fit(const Prepared& prep, size_t horizon,
                                      const std::vector<int>& seasons,
                                      const std::optional<predictor::SeasonProfile>& profile,
                                      int64_t refit_interval_seconds) {
  const int64_t step = prep.step;
  predictor::ForecastConfig cfg;
  const int64_t extra = (refit_interval_seconds + step - 1) / step + 1;
  cfg.horizon = static_cast<int>(std::min<int64_t>(static_cast<int64_t>(horizon) + extra, 10000));
  cfg.seasons = seasons;
  cfg.quantiles = {0.05, 0.5, 0.9, 0.95, 0.99};
  const int64_t start = prep.origin - static_cast<int64_t>(prep.y.size()) * step;
  return profile ? predictor::ForecastWithProfile(prep.y, start, step, *profile, cfg)
                 : predictor::Forecast(prep.y, cfg);
}

// Cheap update between refits: move the level of `g` (the fit sliced at
// bucket k0 > 0) by the mean error of the (up to) 3 newest buckets of `y`
// observed since the fit; robust to a single spike, catches a level shift
// within 3 steps.
void CorrectLevel(predictor::ForecastResult& g, const predictor::ForecastResult& fit,
                  const std::vector<double>& y, int64_t k0, double level_correction) {
  const size_t n = y.size();
  double sum = 0;
  int cnt = 0;
  for (int64_t j = 1; j <= std::min<int64_t>(k0, 3) && j <= static_cast<int64_t>(n); ++j) {
    double actual = y[n - static_cast<size_t>(j)];
    double predicted = fit.Quantile(0.5, static_cast<size_t>(k0 - j));
    if (std::isfinite(actual) && std::isfinite(predicted)) {
      sum += actual - predicted;
      ++cnt;
    }
  }
  if (cnt > 0) {
    double delta = level_correction * sum / cnt;
    for (auto& v : g.point) v += delta;
    for (auto& v : g.p50) v = std::max(0.0, v + delta);
    for (auto& q : g.q)
      for (auto& v : q) v = std::max(0.0, v + delta);
  }
}

// The published loads of `g` (times `unit`): peaks of p50, p90 and p99 over
// the horizon, the probability of exceeding `threshold` and the time until
// p90 crosses it.
void SummarizeLoads(const predictor::ForecastResult& g, double unit, double threshold,
                    int64_t origin, int64_t step, int64_t now, PodForecast& out) {
  for (size_t k = 0; k < g.point.size(); ++k) {
    out.peak = std::max(out.peak, unit * g.Quantile(0.5, k));
    out.p90 = std::max(out.p90, unit * g.Quantile(0.9, k));
    out.p99 = std::max(out.p99, unit * g.Quantile(0.99, k));
  }
  out.prob_exceed = predictor::ProbExceed(g, threshold / unit);
  out.time_to_crossing_seconds = TimeToCrossing(g, unit, threshold, origin, step, now);
}

// Whether the cached fit of `s` cannot serve: none, other settings, older
// than the refit interval, or its horizon runs out `k0` steps after it.
bool RefitDue(const Series& s, const std::string& key, int64_t step, int64_t now, int64_t k0,
              size_t horizon, int64_t refit_interval_seconds) {
  return !s.fit || s.fit_key != key || s.fit_step != step ||
         now - s.fit_time >= refit_interval_seconds || k0 < 0 ||
         static_cast<size_t>(k0) + horizon > s.fit->point.size();
}

// The trust verdict of `s` and where the forecast came from, in `out`; a
// change since the pod's previous forecast sets trust_changed (remembered in
// `ps`).
void SetTrust(const Series& s, const char* source, const std::string& fallback, PodSeries& ps,
              PodForecast& out) {
  out.trusted = s.accuracy.trusted();
  out.trust_changed = ps.last_trusted != out.trusted || ps.last_source != source;
  ps.last_source = source;
  ps.last_trusted = out.trusted;
  out.verdict = s.accuracy.verdict();
  out.band_scale = s.band_scale;
  out.source = source;
  out.fallback = fallback;
}

// Keeps the one-step forecast of bucket `origin` (once) until its actual is
// observed; at most 64 wait.
void RememberOneStep(Series& s, const predictor::ForecastResult& g, int64_t origin) {
  if (g.point.empty()) return;
  bool have = std::any_of(s.pending.begin(), s.pending.end(),
                          [&](const Series::Pending& p) { return p.bucket == origin; });
  if (!have) {
    s.pending.push_back({origin, g.Quantile(0.5, 0), g.Quantile(0.05, 0), g.Quantile(0.95, 0)});
  }
  if (s.pending.size() > 64) s.pending.erase(s.pending.begin());
}

}  // namespace

std::optional<int64_t> TimeToCrossing(const predictor::ForecastResult& g, double unit,
                                      double threshold, int64_t origin, int64_t step, int64_t now) {
  for (size_t k = 0; k < g.point.size(); ++k) {
    if (unit * g.Quantile(0.9, k) > threshold) {
      return std::max<int64_t>(0, origin + static_cast<int64_t>(k) * step - now);
    }
  }
  return std::nullopt;
}

std::optional<PodForecast> SetState::ForecastPod(const std::string& pod, const SetSettings& set,
                                                 const PolicySettings& policy, int64_t now,
                                                 bool force_refit, std::string* error,
                                                 const std::vector<int>* ranges,
                                                 const std::optional<double>* cpu_per_request) {
  auto pit = pods_.find(pod);
  if (pit == pods_.end()) return std::nullopt;
  PodSeries& ps = pit->second;
  Series* sp = set.metric == CapacityMetric::kCpu ? &ps.cpu : &ps.rps;
  const size_t max_points = std::max<size_t>(opts_.max_fit_points, 16);
  std::optional<Prepared> prep;
  const char* source = "pod";
  std::vector<int> composed_ids;  // the ranges behind a composed forecast
  double unit = 1.0;              // published load per unit of the forecast series
  std::string fallback;           // why the pod's ranges were not used
  if (ranges != nullptr && !ranges->empty()) {
    std::vector<int> ids = SortedUnique(*ranges);
    // The composed series stays in requests/s; only what is published is
    // converted (so a changing CPU per request never rescales the fit, its
    // accuracy records or its calibration).
    std::optional<double> scale = set.metric != CapacityMetric::kCpu ? std::optional<double>(1.0)
                                  : cpu_per_request != nullptr       ? *cpu_per_request
                                                                     : CpuPerRequest(now);
    std::string why;
    auto c = ComposeOwnedRanges(ranges_, ids, scale.has_value(), policy, now, max_points,
                                opts_.accuracy.min_samples, &why);
    if (!c) {
      fallback = why;
    } else {
      if (ps.composition != ids) {
        // Other ranges: another series. Start it afresh so that it is judged
        // on the composed history.
        ps.composed = NewSeries(internal::kComposedHistory);
        ps.composition = ids;
        ps.last_p90 = 0;
      }
      sp = &ps.composed;
      composed_ids = ids;
      prep = std::move(c);
      source = "ranges";
      unit = *scale;
    }
  }
  Series& s = *sp;
  if (!prep) prep = internal::Prepare(s.hist, policy.step_seconds, max_points);
  if (!prep) return std::nullopt;
  const int64_t step = prep->step;
  const size_t H =
      static_cast<size_t>(std::clamp<int64_t>((policy.horizon_seconds + step - 1) / step, 1, 5000));
  const size_t n = prep->y.size();

  ScoreMaturedForecasts(s, *prep);
  SeedAccuracy(s, *prep, policy, opts_);

  // A refit leaves out the newest bucket while it is still filling (now is
  // before its end): its mean is of the samples so far, noisier than the
  // others and, on a ramp, behind the bucket's. Its error against the fit
  // then moves the level (CorrectLevel) as it does between refits, so a
  // refit's forecast starts from the same level as the ones after it.
  const bool partial = now < prep->origin && n >= 2;
  const size_t fit_n = partial ? n - 1 : n;
  const std::vector<int> seasons = SeasonPeriods(policy.seasons_seconds, step, fit_n);
  const std::string key = FitKey(step, H, seasons);
  int64_t k0 = s.fit ? (prep->origin - s.fit_origin) / step : -1;
  bool refit = force_refit || RefitDue(s, key, step, now, k0, H, opts_.refit_interval_seconds);
  if (refit) {
    Prepared complete = *prep;
    if (partial) {
      complete.y.pop_back();
      complete.origin -= step;
    }
    auto f =
        Fit(complete, H, seasons,
            LongSeasonProfile(s.hist, ranges_, composed_ids, policy.seasons_seconds, seasons, step),
            opts_.refit_interval_seconds);
    if (!f) {
      if (error) *error = f.error().message;
      return std::nullopt;
    }
    s.fit = std::move(*f);
    s.fit_origin = complete.origin;
    s.fit_step = step;
    s.fit_time = now;
    s.fit_key = key;
    k0 = partial ? 1 : 0;
  }
  predictor::ForecastResult g = Slice(*s.fit, static_cast<size_t>(k0), H);
  for (auto& v : g.scale) v *= s.band_scale;  // quantiles and ProbExceed follow the scale
  if (k0 > 0) CorrectLevel(g, *s.fit, prep->y, k0, opts_.level_correction);
  auto ev = predictor::ApplyEvents(g, prep->origin, step, policy.events);
  if (!ev && error) *error = ev.error().message;

  PodForecast out;
  out.pod = pod;
  out.horizon_seconds = static_cast<int64_t>(H) * step;
  out.model = g.model;
  out.refitted = refit;
  SummarizeLoads(g, unit, set.capacity * policy.max_utilization, prep->origin, step, now, out);
  if (ps.last_p90 > 0 && (out.p90 > 1.2 * ps.last_p90 || 1.2 * out.p90 < ps.last_p90) &&
      spdlog::should_log(spdlog::level::debug)) {
    std::string tail;
    for (size_t i = n >= 3 ? n - 3 : 0; i < n; ++i)
      tail += (tail.empty() ? "" : ",") + std::to_string(prep->y[i]);
    spdlog::debug(
        "forecast pod {}: p90 {:.0f} -> {:.0f} in one publication (source {}, refit {}, model {}, "
        "bucket {} of the fit, unit {:.4g}, newest buckets [{}] ending {}s after now, fit p50 "
        "there {:.4g})",
        pod, ps.last_p90, out.p90, source, refit, g.model, k0, unit, tail, prep->origin - now,
        s.fit->Quantile(0.5, static_cast<size_t>(std::max<int64_t>(k0 - 1, 0))));
  }
  ps.last_p90 = out.p90;
  SetTrust(s, source, fallback, ps, out);
  RememberOneStep(s, g, prep->origin);
  return out;
}

}  // namespace shardcast::forecast
