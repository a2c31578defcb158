#include "controllers/forecast/state.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "controllers/forecast/quantity.h"
#include "controllers/forecast/series_prep.h"
#include "controllers/shardset/shardset.h"
#include "predictor/parse.h"
#include "predictor/series.h"

namespace shardcast::forecast {

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
                                     NewSeries(internal::kComposedHistory),
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

// The buckets [lo, hi) of `s` that overlap (now - window, now]: those that
// end after now - window and start at or before now.
std::pair<size_t, size_t> BucketsIn(const predictor::RegularSeries& s, int64_t now,
                                    int64_t window) {
  auto start = [&](size_t i) { return s.start + static_cast<int64_t>(i) * s.step; };
  size_t hi = s.values.size();
  while (hi > 0 && start(hi - 1) > now) --hi;
  size_t lo = hi;
  while (lo > 0 && start(lo - 1) + s.step > now - window) --lo;
  return {lo, hi};
}

}  // namespace

std::map<int, double> SetState::RecentRangeRates(int64_t now, int64_t window) const {
  std::map<int, double> out;
  for (const auto& [id, s] : ranges_) {
    if (s.last_t == 0) continue;
    const predictor::RegularSeries rs = s.hist.Series(0);
    double sum = 0;
    int n = 0;
    const auto [lo, hi] = BucketsIn(rs, now, window);
    for (size_t i = lo; i < hi; ++i) {
      if (!std::isfinite(rs.values[i])) continue;
      sum += rs.values[i];
      ++n;
    }
    out[id] = n > 0 ? sum / n : s.last;
  }
  return out;
}

std::optional<double> SetState::CpuPerRequest(int64_t now, int64_t window) const {
  double matched_cpu = 0, matched_rps = 0;
  for (const auto& [pod, ps] : pods_) {
    if (ps.cpu.last_t == 0 || ps.rps.last_t == 0) continue;
    const predictor::RegularSeries cs = ps.cpu.hist.Series(0);
    const predictor::RegularSeries rs = ps.rps.hist.Series(0);
    // Both start at a multiple of their step (History::Series): with equal
    // steps, bucket i of cs is bucket i + offset of rs.
    if (cs.step <= 0 || cs.step != rs.step) continue;
    const int64_t offset = (cs.start - rs.start) / cs.step;
    const auto [lo, hi] = BucketsIn(cs, now, window);
    for (size_t i = lo; i < hi; ++i) {
      const int64_t j = static_cast<int64_t>(i) + offset;
      if (!std::isfinite(cs.values[i]) || j < 0 || j >= static_cast<int64_t>(rs.values.size()))
        continue;
      const double r = rs.values[static_cast<size_t>(j)];
      if (!std::isfinite(r) || !(r > 0)) continue;
      matched_cpu += cs.values[i];
      matched_rps += r;
    }
  }
  if (matched_rps > 0 && matched_cpu > 0) return matched_cpu / matched_rps;
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

}  // namespace shardcast::forecast
