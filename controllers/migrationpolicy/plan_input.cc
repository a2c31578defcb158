// Policy parsing (through the typed API layer), selection and conflicts,
// and the planner input of one ShardSet.
#include <algorithm>
#include <cmath>
#include <set>

#include "controllers/api/pod_metrics.h"
#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/migrationpolicy/planner_policy.h"
#include "controllers/shardset/shardset.h"
#include "util/time.h"

namespace shardcast::migrationpolicy {

Result<PolicySpec> ParsePolicy(const Json& obj) {
  auto parsed = api::ParseMigrationPolicy(obj);
  if (!parsed) return unexpected(parsed.error());
  PolicySpec p;
  static_cast<api::MigrationPolicy&>(p) = *parsed;
  p.planner = PlannerPolicy(*parsed);
  return p;
}

Selection ResolveSelection(const std::string& self, const std::vector<PolicyRef>& all) {
  Selection out;
  const PolicyRef* me = nullptr;
  for (const auto& p : all) {
    if (p.name == self) me = &p;
  }
  if (me == nullptr) return out;
  std::vector<std::string> mine = me->selected;
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  for (const auto& set : mine) {
    std::vector<const PolicyRef*> claim;
    for (const auto& p : all) {
      if (std::find(p.selected.begin(), p.selected.end(), set) != p.selected.end())
        claim.push_back(&p);
    }
    std::sort(claim.begin(), claim.end(), [](const PolicyRef* a, const PolicyRef* b) {
      return a->created != b->created ? a->created < b->created : a->name < b->name;
    });
    if (claim.size() > 1) {
      Conflict c;
      c.shard_set = set;
      for (const auto* p : claim) c.policies.push_back(p->name);
      c.chosen = claim.front()->name;
      out.conflicts.push_back(c);
    }
    if (claim.front()->name == self) out.governed.push_back(set);
  }
  return out;
}

// ---- planner input ----

namespace {

// An optional non-negative finite number `key` of `e` (absent or null: nullopt).
Result<std::optional<double>> NonNegative(const Json& e, const char* key, const std::string& fi) {
  if (!e.contains(key) || e[key].is_null()) return std::optional<double>();
  if (!e[key].is_number() || !std::isfinite(e[key].get<double>()) || e[key].get<double>() < 0) {
    return unexpected(
        Error{fi + "." + key + ": must be a non-negative number, got " + e[key].dump()});
  }
  return std::optional<double>(e[key].get<double>());
}

Result<RangesRest> ParseRest(const Json& e, const std::string& fi) {
  if (!e.is_object()) return unexpected(Error{fi + ": must be a map"});
  RangesRest rest;
  if (!e.contains("count") || !e["count"].is_number_integer() || e["count"].get<int64_t>() < 0 ||
      e["count"].get<int64_t>() > 1 << 20) {
    return unexpected(Error{fi + ".count: required non-negative integer"});
  }
  rest.count = e["count"].get<int>();
  auto p50 = NonNegative(e, "p50", fi);
  if (!p50) return unexpected(p50.error());
  auto p90 = NonNegative(e, "p90", fi);
  if (!p90) return unexpected(p90.error());
  rest.p50 = p50->value_or(0);
  rest.p90 = std::max(p90->value_or(rest.p50), rest.p50);
  return rest;
}

}  // namespace

Result<std::map<std::string, ForecastEntry>> ParseForecasts(const Json& shardset) {
  std::map<std::string, ForecastEntry> out;
  if (!shardset.is_object() || !shardset.contains("status") || !shardset["status"].is_object())
    return out;
  const Json& st = shardset["status"];
  if (!st.contains("forecasts") || st["forecasts"].is_null()) return out;
  if (!st["forecasts"].is_array()) return unexpected(Error{"status.forecasts: must be a list"});
  const Json& fs = st["forecasts"];
  for (size_t i = 0; i < fs.size(); ++i) {
    std::string fi = "status.forecasts[" + std::to_string(i) + "]";
    const Json& e = fs[i];
    if (!e.is_object() || !e.contains("pod") || !e["pod"].is_string()) {
      return unexpected(Error{fi + ".pod: required string"});
    }
    ForecastEntry f;
    auto num = [&](const char* k, double def) -> Result<double> {
      if (!e.contains(k) || e[k].is_null()) return def;
      if (!e[k].is_number() || !std::isfinite(e[k].get<double>()) || e[k].get<double>() < 0) {
        return unexpected(
            Error{fi + "." + k + ": must be a non-negative number, got " + e[k].dump()});
      }
      return e[k].get<double>();
    };
    auto peak = num("peak", 0);
    if (!peak) return unexpected(peak.error());
    auto p90 = num("p90", *peak);
    if (!p90) return unexpected(p90.error());
    auto p99 = num("p99", *p90);
    if (!p99) return unexpected(p99.error());
    auto pe = num("probExceed", 0);
    if (!pe) return unexpected(pe.error());
    auto hz = num("horizonSeconds", 0);
    if (!hz) return unexpected(hz.error());
    if (*pe > 1) return unexpected(Error{fi + ".probExceed: must be in 0..1"});
    f.peak = *peak;
    f.p90 = std::max(*p90, *peak);
    f.p99 = std::max(*p99, f.p90);
    f.prob_exceed = *pe;
    f.horizon_seconds = *hz;
    if (e.contains("trusted") && !e["trusted"].is_null()) {
      if (!e["trusted"].is_boolean())
        return unexpected(Error{fi + ".trusted: must be true or false"});
      f.trusted = e["trusted"].get<bool>();
    }
    out[e["pod"].get<std::string>()] = f;
  }
  return out;
}

namespace {

Result<RangeForecastEntry> ParseRangeForecast(const Json& e, const std::string& fi) {
  if (!e.is_object()) return unexpected(Error{fi + ": must be a map"});
  RangeForecastEntry r;
  if (!e.contains("range") || !e["range"].is_number_integer() || e["range"].get<int64_t>() < 0 ||
      e["range"].get<int64_t>() > UINT32_MAX) {
    return unexpected(Error{fi + ".range: required range id (a non-negative integer)"});
  }
  r.range = e["range"].get<uint32_t>();
  if (!e.contains("pod") || !e["pod"].is_string())
    return unexpected(Error{fi + ".pod: required string"});
  r.pod = e["pod"].get<std::string>();
  auto p50 = NonNegative(e, "p50", fi);
  if (!p50) return unexpected(p50.error());
  auto p90 = NonNegative(e, "p90", fi);
  if (!p90) return unexpected(p90.error());
  auto share = NonNegative(e, "readShare", fi);
  if (!share) return unexpected(share.error());
  auto size = NonNegative(e, "sizeBytes", fi);
  if (!size) return unexpected(size.error());
  if (*share && **share > 1) return unexpected(Error{fi + ".readShare: must be in 0..1"});
  r.p50 = p50->value_or(0);
  r.p90 = std::max(p90->value_or(r.p50), r.p50);
  r.read_share = *share;
  r.size_bytes = *size;
  return r;
}

}  // namespace

Result<RangeStatus> ParseRangeStatus(const Json& shardset) {
  RangeStatus out;
  if (!shardset.is_object() || !shardset.contains("status") || !shardset["status"].is_object())
    return out;
  const Json& st = shardset["status"];
  if (st.contains("forecasts") && st["forecasts"].is_array()) {
    const Json& fs = st["forecasts"];
    for (size_t i = 0; i < fs.size(); ++i) {
      std::string fi = "status.forecasts[" + std::to_string(i) + "]";
      const Json& e = fs[i];
      if (!e.is_object() || !e.contains("pod") || !e["pod"].is_string()) continue;
      PodRangeStatus pod;
      auto ttc = NonNegative(e, "timeToCrossingSeconds", fi);
      if (!ttc) return unexpected(ttc.error());
      pod.time_to_crossing_seconds = *ttc;
      if (e.contains("rangesRest") && !e["rangesRest"].is_null()) {
        auto rest = ParseRest(e["rangesRest"], fi + ".rangesRest");
        if (!rest) return unexpected(rest.error());
        pod.ranges_rest = *rest;
      }
      out.published = out.published || pod.time_to_crossing_seconds || pod.ranges_rest;
      out.pods[e["pod"].get<std::string>()] = pod;
    }
  }
  if (!st.contains("rangeForecasts") || st["rangeForecasts"].is_null()) return out;
  const Json& rs = st["rangeForecasts"];
  if (!rs.is_array()) return unexpected(Error{"status.rangeForecasts: must be a list"});
  out.published = true;
  for (size_t i = 0; i < rs.size(); ++i) {
    auto r = ParseRangeForecast(rs[i], "status.rangeForecasts[" + std::to_string(i) + "]");
    if (!r) return unexpected(r.error());
    out.ranges.push_back(std::move(*r));
  }
  return out;
}

std::optional<double> PodMetricsMillicores(const Json& pm) {
  api::PodUsage u = api::ParsePodMetrics(pm, nullptr);
  if (!u.has_cpu) return std::nullopt;
  return u.cpu_millis;
}

std::optional<int64_t> PodMetricsTime(const Json& pm) {
  if (!pm.is_object() || !pm.contains("timestamp") || !pm["timestamp"].is_string()) {
    return std::nullopt;
  }
  auto t = util::ParseRfc3339(pm["timestamp"].get<std::string>());
  if (!t) return std::nullopt;
  return *t;
}

namespace {

planner::Range RangeOf(const shardset::RoutingRange& r) {
  planner::Range range;
  range.id = r.id;
  range.start = r.start;
  range.end = r.end;
  range.owner = r.owner;
  range.state = r.state == "migrating" ? planner::RangeState::kMigrating
                : r.state == "shadow"  ? planner::RangeState::kShadow
                                       : planner::RangeState::kStable;
  if (r.raw.contains("echoes") && r.raw["echoes"].is_array()) {
    for (const auto& e : r.raw["echoes"]) {
      if (e.is_object() && e.contains("pod") && e["pod"].is_string()) {
        range.echoes.push_back(e["pod"].get<std::string>());
      } else if (e.is_string()) {
        range.echoes.push_back(e.get<std::string>());
      }
    }
  }
  return range;
}

// Observed load in the unit of the ShardSet's capacity. The sampler reports
// CPU millicores (PodMetrics); with capacity.metric RequestsPerSecond those
// are not comparable with a requests/s capacity, so they are not used (the
// plan runs on status.forecasts alone, which the forecast controller
// publishes in requests/s).
std::map<std::string, double> ObservedInCapacityUnit(const api::ShardSet& set,
                                                     const LoadInput& load) {
  if (set.metric == api::CapacityMetric::kCpu) return load.observed;
  return {};
}

void AddForecasts(const api::ShardSet& set, const LoadInput& load, const PolicySpec& policy,
                  planner::Forecasts* out) {
  const std::map<std::string, double> observed = ObservedInCapacityUnit(set, load);
  out->horizon_seconds = policy.horizon_seconds;
  for (const auto& [pod, f] : load.forecasts) {
    planner::SeriesForecast s;
    auto o = observed.find(pod);
    // Without an observation in the capacity unit, the forecast's peak is
    // the best estimate of the current load.
    s.observed = o != observed.end()                       ? o->second
                 : set.metric == api::CapacityMetric::kCpu ? 0
                                                           : f.peak;
    s.p50 = f.peak;
    s.p90 = std::max(f.p90, s.p50);
    s.p99 = std::max(f.p99, s.p90);
    s.prob_exceed = f.prob_exceed;
    s.trusted = f.trusted;
    out->pods[pod] = s;
    if (f.horizon_seconds > 0) out->horizon_seconds = f.horizon_seconds;
  }
  for (const auto& [pod, v] : observed) {
    if (out->pods.count(pod)) continue;
    planner::SeriesForecast s;
    s.observed = s.p50 = s.p90 = s.p99 = v;
    s.trusted = false;
    out->pods[pod] = s;
  }
}

// Contract C3 times to crossing: an entry of a forecast controller that
// publishes them but carries none has no crossing within the horizon, so the
// planner sees the crossing at the horizon's end (not "now").
void AddCrossings(const LoadInput& load, const RangeStatus& c3, planner::Forecasts* out) {
  if (!c3.published) return;
  for (const auto& [pod, f] : load.forecasts) {
    auto s = out->pods.find(pod);
    if (s == out->pods.end()) continue;
    auto p = c3.pods.find(pod);
    if (p != c3.pods.end() && p->second.time_to_crossing_seconds) {
      s->second.time_to_crossing_seconds = *p->second.time_to_crossing_seconds;
    } else {
      s->second.time_to_crossing_seconds = out->horizon_seconds;
    }
  }
}

struct RawRange {
  double p50 = 0, p90 = 0;
  std::string pod;  // the pod whose forecast it is part of
};

// Listed ranges, then each pod's rangesRest shared evenly over the ranges it
// owns that are not listed.
std::map<uint32_t, RawRange> RawRangeForecasts(const RangeStatus& c3, planner::PlanInput* in) {
  std::map<uint32_t, std::size_t> index;
  for (std::size_t i = 0; i < in->state.ranges.size(); ++i) index[in->state.ranges[i].id] = i;
  std::map<uint32_t, RawRange> raw;
  for (const auto& e : c3.ranges) {
    auto it = index.find(e.range);
    if (it == index.end()) continue;  // a range the document no longer has
    raw[e.range] = {e.p50, e.p90, e.pod};
    planner::Range& r = in->state.ranges[it->second];
    if (e.size_bytes) r.size_bytes = *e.size_bytes;
    if (e.read_share) r.read_fraction = *e.read_share;
  }
  for (const auto& [pod, f] : c3.pods) {
    if (!f.ranges_rest || f.ranges_rest->count <= 0) continue;
    const double n = static_cast<double>(f.ranges_rest->count);
    for (const auto& r : in->state.ranges) {
      if (r.owner != pod || raw.count(r.id)) continue;
      raw[r.id] = {f.ranges_rest->p50 / n, f.ranges_rest->p90 / n, pod};
    }
  }
  return raw;
}

// Range forecasts for the planner. A pod with rangesRest has all its ranges
// covered: their p50s and p90s are scaled to sum to the pod's (quantiles of
// parts do not add up to the quantile of the whole).
void AddRangeForecasts(const RangeStatus& c3, planner::PlanInput* in) {
  std::map<uint32_t, RawRange> raw = RawRangeForecasts(c3, in);
  std::map<std::string, std::pair<double, double>> sums;  // pod -> (sum p50, sum p90)
  for (const auto& [id, r] : raw) {
    sums[r.pod].first += r.p50;
    sums[r.pod].second += r.p90;
  }
  for (const auto& [id, r] : raw) {
    auto s = in->forecasts.pods.find(r.pod);
    auto c = c3.pods.find(r.pod);
    if (s == in->forecasts.pods.end()) continue;
    double p50 = r.p50, p90 = r.p90;
    const auto& [sum50, sum90] = sums[r.pod];
    if (c != c3.pods.end() && c->second.ranges_rest) {
      if (sum50 > 0) p50 *= s->second.p50 / sum50;
      if (sum90 > 0) p90 *= s->second.p90 / sum90;
    }
    planner::SeriesForecast rf;
    rf.p50 = p50;
    rf.p90 = std::max(p90, p50);
    rf.p99 = s->second.p90 > 0 ? rf.p90 * s->second.p99 / s->second.p90 : rf.p90;
    rf.observed = s->second.p50 > 0 ? s->second.observed * p50 / s->second.p50 : 0;
    rf.trusted = s->second.trusted;
    in->forecasts.ranges[id] = rf;
  }
}

// Relative weights of the ranges (their p50 in status.rangeForecasts; a
// range not listed gets the mean of the pods' rangesRest, else 1).
std::map<uint32_t, double> RangeWeights(const RangeStatus& c3,
                                        const std::vector<planner::Range>& ranges) {
  double rest = 0, count = 0;
  for (const auto& [pod, f] : c3.pods) {
    if (f.ranges_rest && f.ranges_rest->count > 0) {
      rest += f.ranges_rest->p50;
      count += f.ranges_rest->count;
    }
  }
  const double unlisted = count > 0 && rest > 0 ? rest / count : 1.0;
  std::map<uint32_t, double> w;
  for (const auto& r : ranges) w[r.id] = unlisted;
  for (const auto& e : c3.ranges) {
    if (w.count(e.range) && e.p50 > 0) w[e.range] = e.p50;
  }
  return w;
}

// The ranges of each pod when its sample was taken: the current owners with
// the handovers after that time undone (`newest_first`: sorted by time,
// newest first).
struct SampleView {
  std::map<uint32_t, std::string> owner;  // at the sample
  double weight = 0;                      // of the pod's ranges then
};

SampleView ViewAt(const std::string& pod, int64_t at, const std::vector<planner::Range>& ranges,
                  const std::vector<Handover>& newest_first, const std::map<uint32_t, double>& w) {
  SampleView v;
  for (const auto& r : ranges) v.owner[r.id] = r.owner;
  for (const auto& h : newest_first) {
    if (h.at <= at) break;
    if (v.owner.count(h.range)) v.owner[h.range] = h.from;
  }
  for (const auto& [id, o] : v.owner) {
    if (o == pod) v.weight += w.at(id);
  }
  return v;
}

// A pod's sample taken before ranges moved off or onto it describes the
// ranges it owned then (metrics-server samples every 10-60 s; the planner
// runs more often). Without this, a pod that had given ranges away still
// read "over maxUtilization now" until its next sample, and each plan moved
// more ranges off it. The sample is rescaled to the ranges it owns now: kept
// ranges at its own rate, ranges received at the rate of the pod that had
// them at its sample (by range weight). Returns the pods whose sample time
// is known (their observed load is for the current routing).
std::set<std::string> CorrectSamples(const std::vector<planner::Range>& ranges,
                                     const std::map<uint32_t, double>& w, LoadInput* load) {
  std::set<std::string> current;
  std::map<std::string, SampleView> views;
  std::vector<Handover> newest_first = load->handovers;
  std::sort(newest_first.begin(), newest_first.end(),
            [](const Handover& a, const Handover& b) { return a.at > b.at; });
  for (const auto& [pod, v] : load->observed) {
    auto at = load->observed_at.find(pod);
    if (at == load->observed_at.end()) continue;
    views[pod] = ViewAt(pod, at->second, ranges, newest_first, w);
    current.insert(pod);
  }
  std::map<std::string, double> corrected;
  for (const auto& [pod, view] : views) {
    const double v = load->observed.at(pod);
    if (!(view.weight > 0)) continue;
    const double rate = v / view.weight;
    double now = 0;
    bool changed = false;
    for (const auto& r : ranges) {
      const std::string& then = view.owner.at(r.id);
      if (r.owner == pod && then == pod) {
        now += w.at(r.id) * rate;
      } else if (r.owner == pod) {
        changed = true;
        auto src = views.find(then);
        const bool known =
            src != views.end() && src->second.weight > 0 && src->second.owner.at(r.id) == then;
        now += w.at(r.id) * (known ? load->observed.at(then) / src->second.weight : rate);
      } else if (then == pod) {
        changed = true;
      }
    }
    if (changed) corrected[pod] = now;
  }
  for (const auto& [pod, v] : corrected) load->observed[pod] = v;
  return current;
}

// Range observed loads of the pods whose sample is for the current routing:
// the pod's observed load split over the ranges it owns now by their p50
// (when every one of them has a range forecast).
void SplitCurrentObserved(const std::set<std::string>& current, planner::PlanInput* in) {
  std::map<std::string, std::vector<uint32_t>> owned;
  for (const auto& r : in->state.ranges) owned[r.owner].push_back(r.id);
  for (const auto& pod : current) {
    auto f = in->forecasts.pods.find(pod);
    auto o = owned.find(pod);
    if (f == in->forecasts.pods.end() || o == owned.end()) continue;
    double sum = 0;
    bool all = true;
    for (uint32_t id : o->second) {
      auto rf = in->forecasts.ranges.find(id);
      if (rf == in->forecasts.ranges.end()) {
        all = false;
        break;
      }
      sum += rf->second.p50;
    }
    if (!all || !(sum > 0)) continue;
    for (uint32_t id : o->second) {
      auto& rf = in->forecasts.ranges[id];
      rf.observed = f->second.observed * rf.p50 / sum;
    }
  }
}

}  // namespace

Result<BuiltInput> BuildPlanInput(const Json& shardset, const std::vector<PodInfo>& pods,
                                  const Json& routing, const LoadInput& sampled,
                                  const PolicySpec& policy, const planner::History& history,
                                  int64_t now) {
  auto set = api::ParseShardSet(shardset, api::ShardSetUse::kLoad);
  if (!set) return unexpected(set.error());
  if (!routing.is_object() || !routing.contains("ranges")) {
    return unexpected(Error{
        "routing.json ranges: missing: the ShardSet has not published a routing document yet"});
  }
  auto doc = shardset::ParseRoutingDocument(routing.dump());
  if (!doc) return unexpected(doc.error());
  BuiltInput out;
  planner::PlanInput& in = out.input;
  FillShardSetState(*set, &in.state);
  out.capacity = set->capacity;
  out.metric = set->metric;
  for (const auto& p : pods) {
    planner::Pod pod;
    pod.name = p.name;
    pod.role = p.role == "active" ? planner::PodRole::kActive : planner::PodRole::kWarm;
    pod.ready = p.ready;
    pod.capacity = set->capacity;
    in.state.pods.push_back(pod);
  }
  for (const auto& r : doc->ranges) in.state.ranges.push_back(RangeOf(r));
  auto c3 = ParseRangeStatus(shardset);
  if (!c3) {
    out.note = c3.error().message + "; range forecasts and times to crossing not used";
    c3 = RangeStatus{};
  }
  LoadInput load = sampled;
  const std::set<std::string> current =
      CorrectSamples(in.state.ranges, RangeWeights(*c3, in.state.ranges), &load);
  AddForecasts(*set, load, policy, &in.forecasts);
  AddCrossings(load, *c3, &in.forecasts);
  AddRangeForecasts(*c3, &in);
  SplitCurrentObserved(current, &in);
  const bool observed = set->metric == api::CapacityMetric::kCpu && !load.observed.empty();
  out.reactive = load.forecasts.empty();
  out.no_data = load.forecasts.empty() && !observed;
  if (set->metric != api::CapacityMetric::kCpu && !load.observed.empty()) {
    if (!out.note.empty()) out.note += "; ";
    out.note +=
        "capacity.metric RequestsPerSecond: observed CPU (PodMetrics millicores) is not compared "
        "with a "
        "requests/s capacity; planning on status.forecasts only";
  }
  in.policy = policy.planner;
  in.history = history;
  in.now = now;
  return out;
}

}  // namespace shardcast::migrationpolicy
