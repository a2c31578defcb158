#include "controllers/forecast/state.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "controllers/forecast/quantity.h"
#include "controllers/shardset/shardset.h"
#include "predictor/parse.h"
#include "predictor/profile.h"
#include "predictor/series.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

std::optional<int> ParseRangeId(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoi(text);
}

std::map<int, double> ParseRangeCounters(const std::string& text,
                                         std::vector<std::string>* errors) {
  std::map<int, double> out;
  auto parsed = predictor::ParsePromText(text, 10);
  if (errors) {
    for (auto& e : parsed.errors) errors->push_back(e);
  }
  for (const auto& s : parsed.samples) {
    if (s.name != "shardcast_range_requests_total") continue;
    auto it = s.labels.find("range");
    if (it == s.labels.end()) {
      if (errors) errors->push_back("shardcast_range_requests_total: missing label range");
      continue;
    }
    const std::string& id = it->second;
    const std::optional<int> range = ParseRangeId(id);
    if (!range || !std::isfinite(s.value) || s.value < 0) {
      if (errors) {
        errors->push_back("shardcast_range_requests_total{range=\"" + id.substr(0, 32) +
                          "\"}: bad range id or value");
      }
      continue;
    }
    out[*range] += s.value;
  }
  return out;
}

namespace {
// A composed series keeps no samples of its own (they are the ranges'): its
// history is a placeholder of one bucket.
const std::vector<predictor::Resolution> kComposedHistory = {{60, 1}};
}  // namespace

SetState::SetState(StateOptions opts) : opts_(std::move(opts)) {
  if (!predictor::ValidateResolutions(opts_.pod_resolutions)) {
    opts_.pod_resolutions = predictor::DefaultResolutions();
  }
  if (!predictor::ValidateResolutions(opts_.range_resolutions)) {
    opts_.range_resolutions = {{900, 3360}};
  }
}

Series SetState::NewSeries(const std::vector<predictor::Resolution>& res) const {
  auto h = predictor::History::Create(res);
  return Series{
      h ? std::move(*h) : predictor::History::Create(predictor::DefaultResolutions()).value(),
      0,
      0,
      std::nullopt,
      0,
      0,
      0,
      "",
      predictor::AccuracyTracker(opts_.accuracy),
      false,
      {}};
}

Series& SetState::PodMetric(const std::string& pod, const std::string& metric) {
  auto it = pods_.find(pod);
  if (it == pods_.end()) {
    it = pods_
             .emplace(pod, PodSeries{NewSeries(opts_.pod_resolutions),
                                     NewSeries(opts_.pod_resolutions),
                                     NewSeries(opts_.pod_resolutions),
                                     NewSeries(kComposedHistory),
                                     {},
                                     "",
                                     std::nullopt})
             .first;
  }
  if (metric == "mem") return it->second.mem;
  if (metric == "rps") return it->second.rps;
  return it->second.cpu;
}

Series& SetState::Range(int id) {
  auto it = ranges_.find(id);
  if (it == ranges_.end()) it = ranges_.emplace(id, NewSeries(opts_.range_resolutions)).first;
  return it->second;
}

namespace {
void Record(Series& s, int64_t t, double v) {
  s.hist.Add(t, v);
  s.last = v;
  s.last_t = t;
}
}  // namespace

void SetState::AddPodUsage(const PodUsage& u, int64_t t) {
  if (u.has_cpu) Record(PodMetric(u.pod, "cpu"), t, u.cpu_millis);
  if (u.has_mem) Record(PodMetric(u.pod, "mem"), t, u.mem_bytes);
  if (u.has_cpu || u.has_mem) ++samples_;
}

std::map<int, double> SetState::CounterRates(const std::string& pod,
                                             const std::map<int, double>& counters, int64_t t) {
  std::map<int, double> rates;
  for (const auto& [id, v] : counters) {
    auto key = std::make_pair(pod, id);
    auto it = last_counter_.find(key);
    if (it != last_counter_.end() && it->second.t < t) {
      auto r = predictor::CounterToRate({it->second, predictor::Sample{t, v}});
      if (!r.empty() && std::isfinite(r.back().v)) rates[id] = r.back().v;
    }
    last_counter_[key] = predictor::Sample{t, v};
  }
  return rates;
}

void SetState::AddRates(const std::map<int, double>& range_rates,
                        const std::map<std::string, double>& pod_rates, int64_t t) {
  for (const auto& [id, r] : range_rates) Record(Range(id), t, r);
  for (const auto& [pod, r] : pod_rates) Record(PodMetric(pod, "rps"), t, r);
}

void SetState::RetainPods(const std::vector<std::string>& keep) {
  std::set<std::string> k(keep.begin(), keep.end());
  for (auto it = pods_.begin(); it != pods_.end();) {
    it = k.count(it->first) ? std::next(it) : pods_.erase(it);
  }
  for (auto it = last_counter_.begin(); it != last_counter_.end();) {
    it = k.count(it->first.first) ? std::next(it) : last_counter_.erase(it);
  }
}

void SetState::RetainRanges(const std::set<int>& keep) {
  for (auto it = ranges_.begin(); it != ranges_.end();) {
    it = keep.count(it->first) ? std::next(it) : ranges_.erase(it);
  }
  for (auto it = last_counter_.begin(); it != last_counter_.end();) {
    it = keep.count(it->first.second) ? std::next(it) : last_counter_.erase(it);
  }
}

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The series at the forecast step: the coarsest history level whose step
// divides the policy step, aggregated (mean of present buckets).
struct Prepared {
  std::vector<double> y;
  int64_t step = 60;
  int64_t origin = 0;  // start of the first bucket after y
};

std::optional<Prepared> Prepare(const predictor::History& h, int64_t want_step, size_t max_points) {
  size_t level = 0;
  for (size_t l = 0; l < h.levels(); ++l) {
    int64_t ls = h.resolution(l).step_seconds;
    if (ls <= want_step && want_step % ls == 0) level = l;
  }
  predictor::RegularSeries rs = h.Series(level);
  if (rs.values.empty()) return std::nullopt;
  Prepared p;
  p.step = std::max(want_step, rs.step);
  p.step = (p.step / rs.step) * rs.step;
  std::map<int64_t, std::pair<double, int>> agg;
  int64_t first = 0, last = 0;
  bool any = false;
  for (size_t i = 0; i < rs.values.size(); ++i) {
    int64_t b = FloorDiv(rs.start + static_cast<int64_t>(i) * rs.step, p.step);
    double v = rs.values[i];
    if (!std::isfinite(v)) continue;
    auto& a = agg[b];
    a.first += v;
    a.second += 1;
    if (!any) first = b;
    last = b;
    any = true;
  }
  if (!any) return std::nullopt;
  if (static_cast<size_t>(last - first + 1) > max_points)
    first = last - static_cast<int64_t>(max_points) + 1;
  for (int64_t b = first; b <= last; ++b) {
    auto it = agg.find(b);
    p.y.push_back(it == agg.end() ? std::nan("") : it->second.first / it->second.second);
  }
  p.origin = (last + 1) * p.step;
  return p;
}

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

namespace {

// Adaptive band calibration (see Series::band_scale): a miss multiplies the
// scale by exp(0.9 x gamma), a hit by exp(-0.1 x gamma); at a 10% miss rate
// it stands still.
constexpr double kBandGamma = 0.3;
constexpr double kBandScaleMin = 0.5;
constexpr double kBandScaleMax = 4.0;

// The sum of the ranges' series at the forecast step, over the buckets where
// every range has history (a bucket one of them missed is a gap). nullopt
// when a range has no series, no live sample since `fresh_since` (a range
// no longer scraped, or only loaded from a save), or the steps differ.
std::optional<Prepared> Compose(const std::map<int, Series>& ranges, const std::vector<int>& ids,
                                int64_t want_step, size_t max_points, int64_t fresh_since,
                                std::string* why) {
  std::vector<Prepared> parts;
  for (int id : ids) {
    auto it = ranges.find(id);
    if (it == ranges.end()) {
      *why = "range " + std::to_string(id) + " has no series";
      return std::nullopt;
    }
    if (it->second.last_t < fresh_since) {
      *why = "range " + std::to_string(id) + " has no recent sample";
      return std::nullopt;
    }
    auto p = Prepare(it->second.hist, want_step, max_points);
    if (!p || (!parts.empty() && p->step != parts.front().step)) {
      *why = "range " + std::to_string(id) + " has no history at the forecast step";
      return std::nullopt;
    }
    parts.push_back(std::move(*p));
  }
  if (parts.empty()) return std::nullopt;
  const int64_t step = parts.front().step;
  int64_t first = std::numeric_limits<int64_t>::min(), end = std::numeric_limits<int64_t>::min();
  for (const auto& p : parts) {
    const int64_t e = p.origin / step;
    first = std::max(first, e - static_cast<int64_t>(p.y.size()));
    end = std::max(end, e);
  }
  if (end - first > static_cast<int64_t>(max_points))
    first = end - static_cast<int64_t>(max_points);
  if (end <= first) {
    *why = "the ranges' histories do not overlap";
    return std::nullopt;
  }
  Prepared out;
  out.step = step;
  out.origin = end * step;
  out.y.assign(static_cast<size_t>(end - first), 0.0);
  for (const auto& p : parts) {
    const int64_t p_first = p.origin / step - static_cast<int64_t>(p.y.size());
    for (int64_t b = first; b < end; ++b) {
      const int64_t i = b - p_first;
      const double v = i >= 0 && i < static_cast<int64_t>(p.y.size()) ? p.y[static_cast<size_t>(i)]
                                                                      : std::nan("");
      out.y[static_cast<size_t>(b - first)] += v;  // NaN stays NaN: a gap
    }
  }
  return out;
}

}  // namespace

namespace {

// The coarsest level of `h` whose step is above `step` and divides
// `period` (nullopt when none has data).
std::optional<predictor::RegularSeries> CoarseLevel(const predictor::History& h, int64_t step,
                                                    int64_t period) {
  for (size_t l = h.levels(); l-- > 0;) {
    const int64_t ls = h.resolution(l).step_seconds;
    if (ls <= step || period % ls != 0) continue;
    predictor::RegularSeries rs = h.Series(l);
    if (rs.values.empty()) return std::nullopt;
    return rs;
  }
  return std::nullopt;
}

// The sum of the ranges' coarse levels (a bucket one of them missed is a gap).
std::optional<predictor::RegularSeries> ComposeCoarse(const std::map<int, Series>& ranges,
                                                      const std::vector<int>& ids, int64_t step,
                                                      int64_t period) {
  std::map<int64_t, std::pair<double, size_t>> sum;  // bucket start -> (sum, ranges)
  int64_t cstep = 0;
  for (int id : ids) {
    auto it = ranges.find(id);
    if (it == ranges.end()) return std::nullopt;
    auto c = CoarseLevel(it->second.hist, step, period);
    if (!c || (cstep != 0 && c->step != cstep)) return std::nullopt;
    cstep = c->step;
    for (size_t i = 0; i < c->values.size(); ++i) {
      if (!std::isfinite(c->values[i])) continue;
      auto& e = sum[c->start + static_cast<int64_t>(i) * c->step];
      e.first += c->values[i];
      ++e.second;
    }
  }
  if (sum.empty()) return std::nullopt;
  predictor::RegularSeries out;
  out.step = cstep;
  out.start = sum.begin()->first;
  for (int64_t b = out.start; b <= sum.rbegin()->first; b += cstep) {
    auto it = sum.find(b);
    out.values.push_back(it != sum.end() && it->second.second == ids.size() ? it->second.first
                                                                            : std::nan(""));
  }
  return out;
}

}  // namespace

std::map<int, double> SetState::RecentRangeRates(int64_t now, int64_t window) const {
  std::map<int, double> out;
  for (const auto& [id, s] : ranges_) {
    if (s.last_t == 0) continue;
    const predictor::RegularSeries rs = s.hist.Series(0);
    double sum = 0;
    int n = 0;
    for (size_t i = rs.values.size(); i-- > 0;) {
      const int64_t start = rs.start + static_cast<int64_t>(i) * rs.step;
      if (start + rs.step <= now - window) break;
      if (start > now || !std::isfinite(rs.values[i])) continue;
      sum += rs.values[i];
      ++n;
    }
    out[id] = n > 0 ? sum / n : s.last;
  }
  return out;
}

std::optional<double> SetState::CpuPerRequest() const {
  double cpu = 0, rps = 0;
  for (const auto& [pod, ps] : pods_) {
    if (ps.cpu.last_t == 0 || ps.rps.last_t == 0 || !(ps.rps.last > 0) ||
        !std::isfinite(ps.cpu.last))
      continue;
    cpu += ps.cpu.last;
    rps += ps.rps.last;
  }
  if (!(rps > 0) || !(cpu > 0)) return std::nullopt;
  return cpu / rps;
}

Result<std::map<std::string, std::vector<int>>> RangesByOwner(const std::string& routing_json) {
  auto doc = shardset::ParseRoutingDocument(routing_json);
  if (!doc) return unexpected(doc.error());
  std::map<std::string, std::vector<int>> out;
  for (const auto& [id, owner] : doc->owners()) {
    if (owner.empty() || id > 999999999) continue;  // ids as ParseRangeId reads them
    out[owner].push_back(static_cast<int>(id));
  }
  return out;  // owners() is ordered by id, so each list is sorted
}

std::optional<PodForecast> SetState::ForecastPod(const std::string& pod, const SetSettings& set,
                                                 const PolicySettings& policy, int64_t now,
                                                 bool force_refit, std::string* error,
                                                 const std::vector<int>* ranges) {
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
    std::vector<int> ids = *ranges;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    // The composed series stays in requests/s; only what is published is
    // converted (so a changing CPU per request never rescales the fit, its
    // accuracy records or its calibration).
    std::optional<double> scale =
        set.metric == CapacityMetric::kCpu ? CpuPerRequest() : std::optional<double>(1.0);
    // Ranges sampled within the last 3 forecast steps (at least 15 minutes).
    const int64_t fresh_since = now - 3 * std::max<int64_t>(policy.step_seconds, 300);
    std::string why = "no CPU per request yet (no pod request rates)";
    auto c = scale ? Compose(ranges_, ids, policy.step_seconds, max_points, fresh_since, &why)
                   : std::nullopt;
    if (c) {
      // Enough composed history to judge it at once (the same bar as a
      // backfilled pod series, below), counting buckets with data only.
      const size_t present = static_cast<size_t>(
          std::count_if(c->y.begin(), c->y.end(), [](double v) { return std::isfinite(v); }));
      const size_t need = std::max<size_t>(opts_.accuracy.min_samples, 1) + 32;
      if (present < need) {
        why = "the ranges' history holds " + std::to_string(present) + " of " +
              std::to_string(need) + " steps";
        c.reset();
      }
    }
    if (!c) {
      fallback = why;
    } else {
      if (ps.composition != ids) {
        // Other ranges: another series. Start it afresh so that it is judged
        // on the composed history.
        ps.composed = NewSeries(kComposedHistory);
        ps.composition = ids;
      }
      sp = &ps.composed;
      composed_ids = ids;
      prep = std::move(c);
      source = "ranges";
      unit = *scale;
    }
  }
  Series& s = *sp;
  if (!prep) prep = Prepare(s.hist, policy.step_seconds, max_points);
  if (!prep) return std::nullopt;
  const int64_t step = prep->step;
  const size_t H =
      static_cast<size_t>(std::clamp<int64_t>((policy.horizon_seconds + step - 1) / step, 1, 5000));
  const size_t n = prep->y.size();

  // Matured one-step forecasts: compare with what was observed.
  for (auto it = s.pending.begin(); it != s.pending.end();) {
    if (it->bucket >= prep->origin) {
      ++it;
      continue;
    }
    int64_t idx = (it->bucket - prep->origin) / step + static_cast<int64_t>(n);
    if (idx >= 0 && idx < static_cast<int64_t>(n) && std::isfinite(prep->y[idx])) {
      const double actual = prep->y[idx];
      s.accuracy.Record(actual, it->p50, it->lo90, it->hi90);
      const bool covered = predictor::InBand90(actual, it->lo90, it->hi90);
      s.band_scale = std::clamp(s.band_scale * std::exp(kBandGamma * ((covered ? 0.0 : 1.0) - 0.1)),
                                kBandScaleMin, kBandScaleMax);
    }
    it = s.pending.erase(it);
  }

  // A series with history but no verdict yet (a new operator process, a
  // backfill) is judged on that history at once instead of after
  // min_samples live steps: the newest M buckets are held out, the model is
  // fitted on what precedes them, and each held-out bucket is forecast as the
  // live path does between refits (the fit's step plus the level correction
  // from the up to 3 buckets before it). Live records replace these as the
  // tracker's window rolls. One extra fit per series and process.
  if (!s.accuracy_seeded && s.accuracy.count() == 0) {
    s.accuracy_seeded = true;
    const size_t M = std::max<size_t>(opts_.accuracy.min_samples, 1);
    if (n >= M + 32) {
      const size_t m = n - M;
      predictor::ForecastConfig sc;
      sc.horizon = static_cast<int>(M);
      for (int64_t ss : policy.seasons_seconds) {
        if (ss % step != 0) continue;
        int64_t p = ss / step;
        if (p >= 2 && p <= 100000 && static_cast<size_t>(2 * p + 2) <= m)
          sc.seasons.push_back(static_cast<int>(p));
      }
      sc.quantiles = {0.05, 0.5, 0.95};
      std::vector<double> head(prep->y.begin(), prep->y.begin() + static_cast<std::ptrdiff_t>(m));
      auto f = predictor::Forecast(head, sc);
      if (f) {
        for (size_t k = 0; k < M; ++k) {
          double sum = 0;
          int cnt = 0;
          for (size_t j = 1; j <= std::min<size_t>(k, 3); ++j) {
            double actual = prep->y[m + k - j], predicted = f->Quantile(0.5, k - j);
            if (std::isfinite(actual) && std::isfinite(predicted)) {
              sum += actual - predicted;
              ++cnt;
            }
          }
          const double delta = cnt > 0 ? opts_.level_correction * sum / cnt : 0.0;
          const double actual = prep->y[m + k];
          if (!std::isfinite(actual)) continue;
          s.accuracy.Record(actual, std::max(0.0, f->Quantile(0.5, k) + delta),
                            std::max(0.0, f->Quantile(0.05, k) + delta),
                            std::max(0.0, f->Quantile(0.95, k) + delta));
        }
      }
    }
  }

  std::string key = std::to_string(step) + "/" + std::to_string(H);
  std::vector<int> seasons;
  for (int64_t ss : policy.seasons_seconds) {
    if (ss % step != 0) continue;
    int64_t p = ss / step;
    if (p >= 2 && p <= 100000 && static_cast<size_t>(2 * p + 2) <= n)
      seasons.push_back(static_cast<int>(p));
  }
  for (int p : seasons) key += "," + std::to_string(p);
  int64_t k0 = s.fit ? (prep->origin - s.fit_origin) / step : -1;
  bool refit = force_refit || !s.fit || s.fit_key != key || s.fit_step != step ||
               now - s.fit_time >= opts_.refit_interval_seconds || k0 < 0 ||
               static_cast<size_t>(k0) + H > s.fit->point.size();
  if (refit) {
    // A longer season (weekly) that the forecast step's history cannot hold
    // comes from the coarser history as a profile (predictor/profile.h);
    // built at refits only (it becomes usable at a periodic refit).
    std::optional<predictor::SeasonProfile> profile;
    for (int64_t ss : policy.seasons_seconds) {
      if (ss % step != 0 || std::find(seasons.begin(), seasons.end(), ss / step) != seasons.end())
        continue;
      auto coarse = composed_ids.empty() ? CoarseLevel(s.hist, step, ss)
                                         : ComposeCoarse(ranges_, composed_ids, step, ss);
      if (!coarse) continue;
      auto pr = predictor::SeasonalProfile(*coarse, ss);
      if (!pr) continue;
      profile = std::move(*pr);
      break;  // one profile (the first such season)
    }
    predictor::ForecastConfig cfg;
    const int64_t extra = (opts_.refit_interval_seconds + step - 1) / step + 1;
    cfg.horizon = static_cast<int>(std::min<int64_t>(static_cast<int64_t>(H) + extra, 10000));
    cfg.seasons = seasons;
    cfg.quantiles = {0.05, 0.5, 0.9, 0.95, 0.99};
    auto f = profile
                 ? predictor::ForecastWithProfile(
                       prep->y, prep->origin - static_cast<int64_t>(n) * step, step, *profile, cfg)
                 : predictor::Forecast(prep->y, cfg);
    if (!f) {
      if (error) *error = f.error().message;
      return std::nullopt;
    }
    s.fit = std::move(*f);
    s.fit_origin = prep->origin;
    s.fit_step = step;
    s.fit_time = now;
    s.fit_key = key;
    k0 = 0;
  }
  predictor::ForecastResult g = Slice(*s.fit, static_cast<size_t>(k0), H);
  for (auto& v : g.scale) v *= s.band_scale;  // quantiles and ProbExceed follow the scale
  if (k0 > 0) {
    // Cheap update between refits: move the level by the mean error of the
    // (up to) 3 newest buckets observed since the fit; robust to a single
    // spike, catches a level shift within 3 steps.
    double sum = 0;
    int cnt = 0;
    for (int64_t j = 1; j <= std::min<int64_t>(k0, 3) && j <= static_cast<int64_t>(n); ++j) {
      double actual = prep->y[n - static_cast<size_t>(j)];
      double predicted = s.fit->Quantile(0.5, static_cast<size_t>(k0 - j));
      if (std::isfinite(actual) && std::isfinite(predicted)) {
        sum += actual - predicted;
        ++cnt;
      }
    }
    if (cnt > 0) {
      double delta = opts_.level_correction * sum / cnt;
      for (auto& v : g.point) v += delta;
      for (auto& v : g.p50) v = std::max(0.0, v + delta);
      for (auto& q : g.q)
        for (auto& v : q) v = std::max(0.0, v + delta);
    }
  }
  auto ev = predictor::ApplyEvents(g, prep->origin, step, policy.events);
  if (!ev && error) *error = ev.error().message;

  PodForecast out;
  out.pod = pod;
  out.horizon_seconds = static_cast<int64_t>(H) * step;
  out.model = g.model;
  out.refitted = refit;
  for (size_t k = 0; k < g.point.size(); ++k) {
    out.peak = std::max(out.peak, unit * g.Quantile(0.5, k));
    out.p90 = std::max(out.p90, unit * g.Quantile(0.9, k));
    out.p99 = std::max(out.p99, unit * g.Quantile(0.99, k));
  }
  out.prob_exceed = predictor::ProbExceed(g, set.capacity * policy.max_utilization / unit);
  out.time_to_crossing_seconds =
      TimeToCrossing(g, unit, set.capacity * policy.max_utilization, prep->origin, step, now);
  out.trusted = s.accuracy.trusted();
  out.trust_changed = ps.last_trusted != out.trusted || ps.last_source != source;
  ps.last_source = source;
  ps.last_trusted = out.trusted;
  out.verdict = s.accuracy.verdict();
  out.band_scale = s.band_scale;
  out.source = source;
  out.fallback = fallback;
  if (!g.point.empty()) {
    bool have = std::any_of(s.pending.begin(), s.pending.end(),
                            [&](const Series::Pending& p) { return p.bucket == prep->origin; });
    if (!have) {
      s.pending.push_back(
          {prep->origin, g.Quantile(0.5, 0), g.Quantile(0.05, 0), g.Quantile(0.95, 0)});
    }
    if (s.pending.size() > 64) s.pending.erase(s.pending.begin());
  }
  return out;
}

double RoundSig(double v, int digits) {
  if (!std::isfinite(v) || v == 0) return 0;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
  return std::strtod(buf, nullptr);
}

bool MateriallyDifferent(const Json& a, const Json& b, double capacity) {
  if (!a.is_array() || !b.is_array() || a.size() != b.size()) return true;
  auto num = [](const Json& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_number() ? it->get<double>() : std::nan("");
  };
  for (size_t i = 0; i < a.size(); ++i) {
    const Json &x = a[i], &y = b[i];
    if (!x.is_object() || !y.is_object()) return true;
    if (x.value("pod", Json()) != y.value("pod", Json()) ||
        x.value("horizonSeconds", Json()) != y.value("horizonSeconds", Json()) ||
        x.value("trusted", Json()) != y.value("trusted", Json())) {
      return true;
    }
    double dp = std::fabs(num(x, "probExceed") - num(y, "probExceed"));
    if (!(dp < 0.05)) return true;
    auto load_differs = [capacity](double u, double v) {
      double tol = std::max(0.1 * std::max(std::fabs(u), std::fabs(v)), 0.02 * capacity);
      return !(std::fabs(u - v) <= tol);
    };
    for (const char* k : {"peak", "p90", "p99"}) {
      if (load_differs(num(x, k), num(y, k))) return true;
    }
    const bool tx = x.contains("timeToCrossingSeconds"), ty = y.contains("timeToCrossingSeconds");
    if (tx != ty) return true;
    if (tx) {
      double u = num(x, "timeToCrossingSeconds"), v = num(y, "timeToCrossingSeconds");
      if (!(std::fabs(u - v) <= std::max(60.0, 0.1 * std::max(u, v)))) return true;
    }
    const Json rx = x.value("rangesRest", Json()), ry = y.value("rangesRest", Json());
    if (rx.is_object() != ry.is_object()) return true;
    if (rx.is_object()) {
      if (rx.value("count", Json()) != ry.value("count", Json())) return true;
      for (const char* k : {"p50", "p90"}) {
        if (load_differs(num(rx, k), num(ry, k))) return true;
      }
    }
  }
  return false;
}

Json ForecastsToStatus(std::vector<PodForecast> forecasts,
                       const std::map<std::string, RangesRest>* rest) {
  std::sort(forecasts.begin(), forecasts.end(),
            [](const PodForecast& a, const PodForecast& b) { return a.pod < b.pod; });
  Json arr = Json::array();
  for (const auto& f : forecasts) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", std::clamp(f.prob_exceed, 0.0, 1.0));
    arr.push_back({{"pod", f.pod},
                   {"horizonSeconds", f.horizon_seconds},
                   {"peak", RoundSig(f.peak)},
                   {"p90", RoundSig(f.p90)},
                   {"p99", RoundSig(f.p99)},
                   {"probExceed", std::strtod(buf, nullptr)},
                   {"trusted", f.trusted}});
    if (f.time_to_crossing_seconds)
      arr.back()["timeToCrossingSeconds"] = *f.time_to_crossing_seconds;
    if (rest) {
      auto it = rest->find(f.pod);
      if (it != rest->end()) {
        arr.back()["rangesRest"] = {{"count", it->second.count},
                                    {"p50", RoundSig(it->second.p50, 3)},
                                    {"p90", RoundSig(it->second.p90, 3)}};
      }
    }
  }
  return arr;
}

}  // namespace shardcast::forecast
