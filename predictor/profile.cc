#include "predictor/profile.h"

#include <algorithm>
#include <cmath>

namespace shardcast::predictor {

namespace {
int64_t Mod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return r < 0 ? r + b : r;
}
}  // namespace

double SeasonProfile::At(int64_t t) const {
  if (slot.empty() || slot_seconds <= 0) return 0;
  const int64_t n = static_cast<int64_t>(slot.size());
  // Position in slots, measured from the centre of slot 0.
  const double pos =
      static_cast<double>(Mod(t, period_seconds)) / static_cast<double>(slot_seconds) - 0.5;
  const double fl = std::floor(pos);
  const double w = pos - fl;
  const int64_t i = Mod(static_cast<int64_t>(fl), n), j = Mod(i + 1, n);
  return (1 - w) * slot[static_cast<size_t>(i)] + w * slot[static_cast<size_t>(j)];
}

Result<SeasonProfile> SeasonalProfile(const RegularSeries& coarse, int64_t period_seconds,
                                      int min_cycles) {
  if (coarse.step <= 0 || period_seconds <= 0 || period_seconds % coarse.step != 0)
    return unexpected(Error{"period: must be a multiple of the coarse step"});
  const int64_t m = period_seconds / coarse.step;
  const int64_t n = static_cast<int64_t>(coarse.values.size());
  const int64_t half = m / 2;
  if (m < 2 || n < static_cast<int64_t>(min_cycles) * m)
    return unexpected(
        Error{"history: fewer than " + std::to_string(min_cycles) + " cycles of the period"});
  // Local level: mean over one cycle centred on i (prefix sums over present values).
  std::vector<double> sum(static_cast<size_t>(n + 1), 0.0), cnt(static_cast<size_t>(n + 1), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double v = coarse.values[static_cast<size_t>(i)];
    const bool ok = std::isfinite(v);
    sum[static_cast<size_t>(i + 1)] = sum[static_cast<size_t>(i)] + (ok ? v : 0.0);
    cnt[static_cast<size_t>(i + 1)] = cnt[static_cast<size_t>(i)] + (ok ? 1.0 : 0.0);
  }
  std::vector<double> dev(static_cast<size_t>(m), 0.0), seen(static_cast<size_t>(m), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double v = coarse.values[static_cast<size_t>(i)];
    if (!std::isfinite(v)) continue;
    // The cycle centred on i, moved inside the data near its ends.
    const int64_t lo = std::clamp<int64_t>(i - half, 0, n - m);
    const size_t a = static_cast<size_t>(lo), b = static_cast<size_t>(lo + m);
    const double c = cnt[b] - cnt[a];
    if (c < 0.5 * static_cast<double>(m)) continue;  // too many gaps for a level
    const double level = (sum[b] - sum[a]) / c;
    const int64_t t = coarse.start + i * coarse.step;
    const size_t s = static_cast<size_t>(Mod(t, period_seconds) / coarse.step);
    dev[s] += v - level;
    seen[s] += 1;
  }
  SeasonProfile p;
  p.period_seconds = period_seconds;
  p.slot_seconds = coarse.step;
  p.slot.resize(static_cast<size_t>(m));
  double mean = 0;
  for (size_t s = 0; s < dev.size(); ++s) {
    if (seen[s] < min_cycles)
      return unexpected(Error{"history: a phase of the period was seen fewer than " +
                              std::to_string(min_cycles) + " times"});
    p.slot[s] = dev[s] / seen[s];
    mean += p.slot[s];
  }
  mean /= static_cast<double>(m);
  for (auto& v : p.slot) v -= mean;  // deviations sum to zero over a cycle
  return p;
}

Result<ForecastResult> ForecastWithProfile(const std::vector<double>& y, int64_t start,
                                           int64_t step, const SeasonProfile& profile,
                                           const ForecastConfig& cfg) {
  // The forecaster reads negative values as gaps: lift the remainder by the
  // profile's largest deviation so that y >= 0 stays >= 0, and lower the
  // forecast by as much.
  double lift = 0;
  for (double v : profile.slot) lift = std::max(lift, v);
  std::vector<double> adj(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    const int64_t centre = start + static_cast<int64_t>(i) * step + step / 2;
    adj[i] = std::isfinite(y[i]) ? y[i] - profile.At(centre) + lift : y[i];
  }
  auto f = Forecast(adj, cfg);
  if (!f) return f;
  const int64_t origin = start + static_cast<int64_t>(y.size()) * step;
  for (size_t k = 0; k < f->point.size(); ++k) {
    const double d = profile.At(origin + static_cast<int64_t>(k) * step + step / 2) - lift;
    f->point[k] += d;
    if (k < f->p50.size()) f->p50[k] = std::max(0.0, f->p50[k] + d);
    for (auto& q : f->q) {
      if (k < q.size()) q[k] = std::max(0.0, q[k] + d);
    }
  }
  f->model = "weekly-profile+" + f->model;
  return f;
}

}  // namespace shardcast::predictor
