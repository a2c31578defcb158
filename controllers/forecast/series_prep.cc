#include "controllers/forecast/series_prep.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace shardcast::forecast::internal {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

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

}  // namespace shardcast::forecast::internal
