// Policy parsing (through the typed API layer), selection and conflicts,
// and the planner input of one ShardSet.
#include <algorithm>
#include <cmath>

#include "controllers/api/pod_metrics.h"
#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/migrationpolicy/planner_policy.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::migrationpolicy {

Result<PolicySpec> ParsePolicy(const Json& obj) {
  auto parsed = api::ParseMigrationPolicy(obj);
  if (!parsed) return unexpected(parsed.error());
  const api::MigrationPolicy& a = *parsed;
  PolicySpec p;
  p.ns = a.ns;
  p.name = a.name;
  p.uid = a.uid;
  p.generation = a.generation;
  p.created = a.created;
  p.mode = a.mode;
  p.selector = a.selector;
  p.planner = PlannerPolicy(a);
  p.horizonSeconds = static_cast<double>(a.horizon_seconds);
  p.shadowEnabled = a.shadow_enabled;
  p.shadowFraction = a.shadow_fraction;
  p.shadowSeconds = a.shadow_seconds;
  p.verificationSeconds = a.verification_seconds;
  p.maxErrorRate = a.max_error_rate;
  p.maxLatencyRatio = a.max_latency_ratio;
  p.proposalTtlSeconds = a.proposal_ttl_seconds;
  p.approve = a.approve;
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
      c.shardSet = set;
      for (const auto* p : claim) c.policies.push_back(p->name);
      c.chosen = claim.front()->name;
      out.conflicts.push_back(c);
    }
    if (claim.front()->name == self) out.governed.push_back(set);
  }
  return out;
}

// ---- planner input ----

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
    f.probExceed = *pe;
    f.horizonSeconds = *hz;
    if (e.contains("trusted") && !e["trusted"].is_null()) {
      if (!e["trusted"].is_boolean())
        return unexpected(Error{fi + ".trusted: must be true or false"});
      f.trusted = e["trusted"].get<bool>();
    }
    out[e["pod"].get<std::string>()] = f;
  }
  return out;
}

std::optional<double> PodMetricsMillicores(const Json& pm) {
  api::PodUsage u = api::ParsePodMetrics(pm, nullptr);
  if (!u.has_cpu) return std::nullopt;
  return u.cpu_millis;
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
  out->horizonSeconds = policy.horizonSeconds;
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
    s.probExceed = f.probExceed;
    s.trusted = f.trusted;
    out->pods[pod] = s;
    if (f.horizonSeconds > 0) out->horizonSeconds = f.horizonSeconds;
  }
  for (const auto& [pod, v] : observed) {
    if (out->pods.count(pod)) continue;
    planner::SeriesForecast s;
    s.observed = s.p50 = s.p90 = s.p99 = v;
    s.trusted = false;
    out->pods[pod] = s;
  }
}

}  // namespace

Result<BuiltInput> BuildPlanInput(const Json& shardset, const std::vector<PodInfo>& pods,
                                  const Json& routing, const LoadInput& load,
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
  AddForecasts(*set, load, policy, &in.forecasts);
  const bool observed = set->metric == api::CapacityMetric::kCpu && !load.observed.empty();
  out.reactive = load.forecasts.empty();
  out.noData = load.forecasts.empty() && !observed;
  if (set->metric != api::CapacityMetric::kCpu && !load.observed.empty()) {
    out.note =
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
