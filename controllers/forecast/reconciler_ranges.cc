// ForecastReconciler's per-range sources: router telemetry (spec.routers,
// C2), range sizes from the shard agent (C4), and status.rangeForecasts
// (C3). See reconciler.h.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "controllers/api/resources.h"
#include "controllers/forecast/range_forecast.h"
#include "controllers/forecast/reconciler.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

namespace {
bool Active(const Json& pod) {
  const Json md = pod.value("metadata", Json::object());
  if (md.contains("deletionTimestamp")) return false;
  const Json labels = md.value("labels", Json::object());
  return !(labels.is_object() && labels.value(api::kLabelRole, "") == api::kRoleWarm);
}
}  // namespace

void ForecastReconciler::SampleRouters(Entry& e, const SetSettings& set, const RoutingView* routing,
                                       int64_t t, runtime::Clock::time_point round_start) {
  kube::ListOptions lo;
  lo.label_selector = MatchLabelsQuery(set.routers.selector_json);
  auto list = deps_.client->list(kube::resources::kPods, set.ns, lo);
  if (!list) {
    spdlog::warn("forecast {}/{}: listing router pods failed ({}): a gap in range load", set.ns,
                 set.name, list.error().to_string());
    e.routers_scraped = 0;
    return;
  }
  const std::vector<RouterPod> routers = ReadyRouters(*list, set.routers.selector);
  // Routers that had a baseline scrape: only then is a range they do not
  // report known to have had no requests.
  const size_t baselines = e.router_totals.Baselines(routers, t);
  auto elapsed = [this, round_start] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deps_.clock->now() - round_start);
  };
  RouterRound round = ScrapeRouters(*deps_.http, e.router_totals, routers, set.routers.metrics_port,
                                    opts_.scrape_timeout, opts_.round_budget, elapsed,
                                    [this] { return UnixSeconds(); });
  e.routers_scraped = round.scraped;
  for (const auto& f : round.failures)
    spdlog::debug("forecast {}/{}: router {} (a gap)", set.ns, set.name, f);
  if (routers.empty()) {
    spdlog::debug("forecast {}/{}: spec.routers selects no Ready router pod", set.ns, set.name);
  }
  if (baselines == 0 || round.scraped == 0) return;
  std::map<std::string, double> pod_rates;
  if (routing != nullptr) {
    for (const auto& [id, r] : routing->ranges) round.range_rates.emplace(id, 0.0);
    for (const auto& [pod, ids] : routing->owned) {
      double sum = 0;
      for (int id : ids) sum += round.range_rates[id];
      pod_rates[pod] = sum;
    }
  }
  e.state->AddRates(round.range_rates, pod_rates, t);
}

void ForecastReconciler::SampleSizes(Entry& e, const SetSettings& set,
                                     const std::vector<kube::ObjectPtr>& pods,
                                     const RoutingView& routing,
                                     runtime::Clock::time_point round_start) {
  const auto now = deps_.clock->now();
  for (const auto& p : pods) {
    if (!Active(*p)) continue;
    const std::string pod = kube::ObjectName(*p);
    auto owned = routing.owned.find(pod);
    if (owned == routing.owned.end() || owned->second.empty()) continue;
    const Json st = p->value("status", Json::object());
    const std::string ip = st.is_object() ? st.value("podIP", std::string()) : std::string();
    if (ip.empty() || st.value("phase", std::string()) != "Running") continue;
    auto due = e.next_size.find(pod);
    if (due != e.next_size.end() && now < due->second) continue;
    const auto left = opts_.round_budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                                               deps_.clock->now() - round_start);
    if (left <= std::chrono::milliseconds(0)) break;  // the rest in a later round
    e.next_size[pod] = now + opts_.size_interval;
    auto body = deps_.http->post(ip, set.hooks_port, "/shardcast/ranges",
                                 RangesRequestBody(owned->second, routing),
                                 std::min(opts_.scrape_timeout, left));
    auto sizes = body ? ParseRangesAnswer(*body)
                      : Result<std::map<int, RangeSize>>(unexpected(body.error()));
    if (!sizes) {
      spdlog::debug("forecast {}/{}: range sizes from {}: {}", set.ns, set.name, pod,
                    sizes.error().message);
      continue;
    }
    for (const auto& [id, size] : *sizes) e.sizes[id] = size;
  }
  for (auto it = e.next_size.begin(); it != e.next_size.end();)
    it = routing.owned.count(it->first) ? std::next(it) : e.next_size.erase(it);
}

Json ForecastReconciler::RangeStatus(Entry& e, const std::vector<PodForecast>& out,
                                     const RoutingView& routing, int64_t t,
                                     std::map<std::string, RangesRest>* rest) {
  const std::map<int, double> recent = e.state->RecentRangeRates(t, 3600);
  const RangeTelemetryMap& totals = e.router_totals.totals();
  std::vector<RangeForecast> all;
  for (const auto& f : out) {
    auto owned = routing.owned.find(f.pod);
    if (owned == routing.owned.end()) continue;
    for (RangeForecast& rf : SplitPodForecast(f, owned->second, recent)) {
      auto tel = totals.find(rf.range);
      if (tel != totals.end() && tel->second.requests() > 0)
        rf.read_share = tel->second.reads / tel->second.requests();
      auto size = e.sizes.find(rf.range);
      if (size != e.sizes.end()) {
        rf.size_bytes = size->second.bytes;
        rf.keys = size->second.keys;
      }
      all.push_back(std::move(rf));
    }
  }
  return RangeForecastsToStatus(std::move(all), kRangeForecastsPerPod, rest);
}

}  // namespace shardcast::forecast
