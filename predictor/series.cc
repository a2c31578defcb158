#include "predictor/series.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace shardcast::predictor {

namespace {
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
}  // namespace

Result<RegularSeries> Bucketize(std::vector<Sample> samples, int64_t step, int64_t max_buckets) {
  if (step <= 0) return unexpected(Error{"step: must be > 0, got " + std::to_string(step)});
  RegularSeries out;
  out.step = step;
  std::erase_if(samples, [](const Sample& s) { return !std::isfinite(s.v); });
  if (samples.empty()) return out;
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.t < b.t; });
  const int64_t b0 = FloorDiv(samples.front().t, step);
  const int64_t b1 = FloorDiv(samples.back().t, step);
  // b1 - b0 cannot overflow for realistic timestamps, but guard anyway.
  if (b1 < b0 || (b1 - b0) >= max_buckets) {
    return unexpected(Error{"timestamps: span of " +
                            std::to_string(samples.back().t - samples.front().t) +
                            " s needs more than " + std::to_string(max_buckets) + " buckets of " +
                            std::to_string(step) + " s"});
  }
  out.start = b0 * step;
  const size_t n = static_cast<size_t>(b1 - b0 + 1);
  std::vector<double> sum(n, 0.0);
  std::vector<int> cnt(n, 0);
  for (const auto& s : samples) {
    size_t i = static_cast<size_t>(FloorDiv(s.t, step) - b0);
    sum[i] += s.v;
    cnt[i]++;
  }
  out.values.assign(n, std::nan(""));
  for (size_t i = 0; i < n; ++i)
    if (cnt[i] > 0) out.values[i] = sum[i] / cnt[i];
  return out;
}

std::vector<Sample> CounterToRate(std::vector<Sample> samples) {
  std::erase_if(samples, [](const Sample& s) { return !std::isfinite(s.v); });
  std::stable_sort(samples.begin(), samples.end(),
                   [](const Sample& a, const Sample& b) { return a.t < b.t; });
  // Collapse duplicate timestamps (last wins).
  std::vector<Sample> uniq;
  for (const auto& s : samples) {
    if (!uniq.empty() && uniq.back().t == s.t)
      uniq.back() = s;
    else
      uniq.push_back(s);
  }
  std::vector<Sample> out;
  for (size_t i = 1; i < uniq.size(); ++i) {
    const double dt = static_cast<double>(uniq[i].t - uniq[i - 1].t);
    double inc = uniq[i].v - uniq[i - 1].v;
    if (inc < 0) inc = std::max(0.0, uniq[i].v);  // reset: counter restarted at 0
    out.push_back({uniq[i].t, inc / dt});
  }
  return out;
}

}  // namespace shardcast::predictor
