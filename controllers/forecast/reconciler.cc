#include "controllers/forecast/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "controllers/api/resources.h"
#include "controllers/forecast/quantity.h"
#include "controllers/forecast/range_forecast.h"

namespace shardcast::forecast {

using Json = nlohmann::json;
using namespace std::chrono_literals;

Result<void> ControllerOptions::Set(const std::string& flag, const std::string& value) {
  const std::string f = "--" + flag;
  auto dur = [&](std::chrono::milliseconds* out) -> Result<void> {
    auto d = ParseDurationSeconds(value, f);
    if (!d) return unexpected(d.error());
    if (*d < 1) return unexpected(Error{f + ": must be at least 1s, got '" + value + "'"});
    *out = std::chrono::seconds(*d);
    return {};
  };
  if (flag == "forecast-sample-period") return dur(&sample_period);
  if (flag == "forecast-persist-interval") return dur(&persist_interval);
  if (flag == "forecast-scrape-timeout") return dur(&scrape_timeout);
  if (flag == "forecast-refit-interval") {
    std::chrono::milliseconds refit{0};
    if (auto r = dur(&refit); !r) return r;
    state.refit_interval_seconds = std::chrono::duration_cast<std::chrono::seconds>(refit).count();
    return {};
  }
  if (flag == "forecast-scrape-ranges") {
    if (value == "true" || value == "1") {
      scrape_ranges = true;
    } else if (value == "false" || value == "0") {
      scrape_ranges = false;
    } else {
      return unexpected(Error{f + ": must be true or false, not '" + value + "'"});
    }
    return {};
  }
  return unexpected(Error{"unknown flag '" + f + "'"});
}

Result<ForecastMetrics> RegisterForecastMetrics(runtime::Registry& reg) {
  ForecastMetrics m;
  auto peak =
      reg.gauge("shardcast_forecast_peak",
                "Forecast peak load of a pod within the horizon, by quantile (0.5 = expected), "
                "in units of spec.capacity.metric.",
                {"shardset", "pod", "quantile"});
  if (!peak) return unexpected(peak.error());
  auto prob = reg.gauge(
      "shardcast_forecast_prob_exceed",
      "Probability that the pod's load exceeds maxUtilization x capacity within the horizon.",
      {"shardset", "pod"});
  if (!prob) return unexpected(prob.error());
  auto trusted =
      reg.gauge("shardcast_forecast_trusted",
                "1 when the pod's forecast is trusted (enough history, recent accuracy).",
                {"shardset", "pod"});
  if (!trusted) return unexpected(trusted.error());
  auto cpu = reg.gauge("shardcast_observed_cpu_millicores",
                       "Last sampled CPU of the pod (sum over containers, metrics.k8s.io).",
                       {"shardset", "pod"});
  if (!cpu) return unexpected(cpu.error());
  m.peak = *peak;
  m.prob_exceed = *prob;
  m.trusted = *trusted;
  m.observed_cpu = *cpu;
  return m;
}

ForecastReconciler::ForecastReconciler(ReconcilerDeps deps, ControllerOptions options)
    : deps_(std::move(deps)), opts_(std::move(options)) {
  if (deps_.clock == nullptr) deps_.clock = &runtime::GetRealClock();
}

ReconcilerStats ForecastReconciler::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

namespace {

std::string Label(const Json& obj, const char* key) {
  const Json md = obj.value("metadata", Json::object());
  const Json labels = md.is_object() ? md.value("labels", Json::object()) : Json::object();
  return labels.is_object() ? labels.value(key, std::string()) : std::string();
}

bool Active(const Json& pod) {
  if (pod.value("metadata", Json::object()).contains("deletionTimestamp")) return false;
  return Label(pod, api::kLabelRole) != api::kRoleWarm;
}

}  // namespace

void ForecastReconciler::DropMetrics(const std::string& key, const std::string& pod) {
  runtime::Labels l = {{"shardset", key}};
  if (!pod.empty()) l.push_back({"pod", pod});
  for (auto* f : {deps_.metrics.peak, deps_.metrics.prob_exceed, deps_.metrics.trusted,
                  deps_.metrics.observed_cpu}) {
    if (f) f->RemoveMatching(l);
  }
}

void ForecastReconciler::Sample(Entry& e, const SetSettings& set,
                                const std::vector<kube::ObjectPtr>& pods,
                                const RoutingView* routing, int64_t t) {
  const auto round_start = deps_.clock->now();
  // CPU and memory: one list of PodMetrics by label.
  kube::ListOptions lo;
  lo.label_selector = std::string(api::kLabelShardSet) + "=" + set.name;
  auto list = deps_.client->list(kube::resources::kPodMetrics, set.ns, lo);
  std::set<std::string> names;
  for (const auto& p : pods) names.insert(kube::ObjectName(*p));
  if (list) {
    std::vector<std::string> errors;
    for (const auto& u : ParsePodMetricsList(*list, &errors)) {
      if (!names.count(u.pod)) continue;
      e.state->AddPodUsage(u, t);
      if (u.has_cpu && deps_.metrics.observed_cpu) {
        deps_.metrics.observed_cpu->with({{"shardset", set.ns + "/" + set.name}, {"pod", u.pod}})
            ->set(u.cpu_millis);
      }
    }
    for (const auto& err : errors)
      spdlog::warn("forecast {}/{}: skipped sample: {}", set.ns, set.name, err);
  } else {
    spdlog::warn("forecast {}/{}: metrics.k8s.io PodMetrics unavailable ({}): a gap in CPU/memory",
                 set.ns, set.name, list.error().to_string());
  }
  // Per-range load: from the routers when spec.routers names them, else
  // from each running pod's own counters.
  if (set.routers.enabled && deps_.http != nullptr) {
    SampleRouters(e, set, routing, t, round_start);
  } else if (opts_.scrape_ranges && deps_.http != nullptr) {
    std::map<int, double> range_rates;
    std::map<std::string, double> pod_rates;
    for (const auto& p : pods) {
      const Json st = p->value("status", Json::object());
      std::string ip = st.is_object() ? st.value("podIP", std::string()) : std::string();
      if (ip.empty() || st.value("phase", std::string()) != "Running") continue;
      std::string pod = kube::ObjectName(*p);
      auto body = deps_.http->get(ip, set.metrics_port, set.metrics_path, opts_.scrape_timeout);
      const int64_t at = UnixSeconds();  // the rate is over the time between answers
      if (!body) {
        spdlog::debug("forecast {}/{}: scrape of {} failed (a gap): {}", set.ns, set.name, pod,
                      body.error().message);
        continue;
      }
      std::vector<std::string> errors;
      auto counters = ParseRangeCounters(*body, &errors);
      if (!errors.empty()) {
        spdlog::warn("forecast {}/{}: {} bad metric line(s) from {}, first: {}", set.ns, set.name,
                     errors.size(), pod, errors.front());
      }
      auto rates = e.state->CounterRates(pod, counters, at);
      if (counters.empty()) continue;
      double total = 0;
      for (const auto& [id, r] : rates) {
        range_rates[id] += r;
        total += r;
      }
      if (!rates.empty()) pod_rates[pod] = total;
    }
    e.state->AddRates(range_rates, pod_rates, t);
  }
  if (set.hooks && deps_.http != nullptr && routing != nullptr)
    SampleSizes(e, set, pods, *routing, round_start);
  std::vector<std::string> keep(names.begin(), names.end());
  e.state->RetainPods(keep);
  e.dirty = true;
  ++stats_.samples;
}

std::optional<RoutingView> ForecastReconciler::ReadRouting(const std::string& key,
                                                           const SetSettings& set) {
  kube::ObjectPtr cm = deps_.configmaps != nullptr && !set.routing_configmap.empty()
                           ? deps_.configmaps->get(set.ns + "/" + set.routing_configmap)
                           : nullptr;
  if (!cm) return std::nullopt;
  const Json data = cm->value("data", Json::object());
  auto it = data.is_object() ? data.find(api::kRoutingKey) : data.end();
  auto parsed = it != data.end() && it->is_string()
                    ? ParseRoutingView(it->get<std::string>())
                    : Result<RoutingView>(unexpected(Error{"data.routing.json: missing"}));
  if (!parsed) {
    spdlog::warn("forecast {}: ConfigMap {}: {} (pods forecast from their own history)", key,
                 set.routing_configmap, parsed.error().message);
    return std::nullopt;
  }
  return std::move(*parsed);
}

void ForecastReconciler::SetPodMetrics(const std::string& key, const PodForecast& f) {
  if (!deps_.metrics.peak) return;
  runtime::Labels base = {{"shardset", key}, {"pod", f.pod}};
  auto with_q = [&](const char* q) {
    runtime::Labels l = base;
    l.push_back({"quantile", q});
    return l;
  };
  deps_.metrics.peak->with(with_q("0.5"))->set(f.peak);
  deps_.metrics.peak->with(with_q("0.9"))->set(f.p90);
  deps_.metrics.peak->with(with_q("0.99"))->set(f.p99);
  deps_.metrics.prob_exceed->with(base)->set(f.prob_exceed);
  deps_.metrics.trusted->with(base)->set(f.trusted ? 1 : 0);
}

void ForecastReconciler::WriteStatus(Entry& e, const std::string& key, const Json& set_obj,
                                     const SetSettings& set, const Json& next) {
  const Json cur_status = set_obj.value("status", Json::object());
  Json current = Json::object();
  for (const char* k : {"forecasts", "rangeForecasts", "routerStats"})
    current[k] = cur_status.is_object() ? cur_status.value(k, Json()) : Json();
  if (!StatusDiffers(next, current, set.capacity) ||
      (!e.last_written.is_null() && !StatusDiffers(next, e.last_written, set.capacity))) {
    return;
  }
  if (deps_.may_write && !deps_.may_write()) return;
  kube::PatchOptions po;
  po.subresource = "status";
  po.field_manager = std::string(api::kFieldManager) + "-forecast";
  // A part that is absent now is removed (null in a merge patch) only when
  // the object still has it.
  Json patch = next;
  for (const char* k : {"rangeForecasts", "routerStats"}) {
    if (patch[k].is_null() && current[k].is_null()) patch.erase(k);
  }
  auto r = deps_.client->patch(api::kShardSets, set.ns, set.name, kube::PatchType::kMerge,
                               Json{{"status", patch}}, po);
  if (r) {
    e.last_written = next;
    ++stats_.status_writes;
  } else if (r.error().kind != kube::ErrorKind::kNotFound) {
    spdlog::warn("forecast {}: writing status.forecasts failed: {}", key, r.error().to_string());
  }
}

void ForecastReconciler::Forecast(Entry& e, const std::string& key, const Json& set_obj,
                                  const SetSettings& set, const PolicySettings& policy,
                                  const std::vector<kube::ObjectPtr>& pods,
                                  const RoutingView* routing, int64_t t) {
  // The ranges each pod owns now, from the routing ConfigMap, so that a
  // pod's forecast follows the load of its current ranges (only when ranges
  // are sampled at all). Without it, pods are forecast from their own
  // history.
  std::optional<std::map<std::string, std::vector<int>>> owned;
  if (routing != nullptr && !e.state->ranges().empty()) {
    owned = routing->owned;
    std::set<int> ids;
    for (const auto& [id, r] : routing->ranges) ids.insert(id);
    e.state->RetainRanges(ids);
    e.router_totals.RetainRanges(ids);
    for (auto it = e.sizes.begin(); it != e.sizes.end();)
      it = ids.count(it->first) ? std::next(it) : e.sizes.erase(it);
  }
  static const std::vector<int> kNoRanges;
  // The set's CPU per request, once for the round (it scans every pod's
  // history); only composed forecasts of a CPU capacity use it.
  const std::optional<double> cpu_per_request =
      owned && set.metric == CapacityMetric::kCpu ? e.state->CpuPerRequest(t) : std::nullopt;
  std::vector<PodForecast> out;
  std::set<std::string> reported;
  std::vector<std::string> active;
  for (const auto& p : pods) {
    if (!Active(*p)) continue;
    std::string pod = kube::ObjectName(*p);
    active.push_back(pod);
    std::string err;
    const std::vector<int>* ids = nullptr;
    if (owned) {
      auto it = owned->find(pod);
      ids = it == owned->end() ? &kNoRanges : &it->second;
    }
    auto f = e.state->ForecastPod(pod, set, policy, t, false, &err, ids, &cpu_per_request);
    if (!err.empty()) spdlog::warn("forecast {} pod {}: {}", key, pod, err);
    if (!f) continue;
    if (f->refitted) ++stats_.refits;
    // The trust verdict decides whether the planner acts on the forecast:
    // log each change (and the first verdict) with the accuracy behind it.
    if (f->trust_changed) {
      spdlog::info("forecast {} pod {}: {} (model {}, band scale {:.2f}, from {}{})", key, pod,
                   f->verdict, f->model, f->band_scale,
                   f->source == "ranges" ? "its ranges' series" : "its own history",
                   f->fallback.empty() ? "" : ": " + f->fallback);
    }
    out.push_back(*f);
    reported.insert(pod);
    SetPodMetrics(key, *f);
  }
  for (const auto& old : e.metric_pods) {
    if (!reported.count(old)) DropMetrics(key, old);
  }
  e.metric_pods = reported;
  PublishLoads(e, key, set_obj, set, active, out);

  std::map<std::string, RangesRest> rest;
  Json next = Json::object();
  next["rangeForecasts"] = owned ? RangeStatus(e, out, *routing, t, &rest) : Json();
  next["forecasts"] = ForecastsToStatus(out, owned ? &rest : nullptr);
  next["routerStats"] =
      set.routers.enabled
          ? RouterStatsToStatus(e.router_totals.totals(),
                                routing ? e.owner_changes.Select(t, kRouterStatsRecentSeconds,
                                                                 kRouterStatsMaxEntries)
                                        : std::vector<int>{},
                                e.routers_scraped, t)
          : Json();
  WriteStatus(e, key, set_obj, set, next);
}

kube::ApiStatus ForecastReconciler::Persist(Entry& e, const Json& set_obj, int64_t t) {
  const std::string ns = kube::ObjectNamespace(set_obj);
  BuildReport rep;
  Json cm = BuildHistoryConfigMap(set_obj, *e.state, t, opts_.snapshot_budget, &rep);
  if (!rep.dropped.empty()) {
    spdlog::warn(
        "forecast {}: history snapshot over budget ({} bytes): left out {} series, first {}",
        kube::ObjectKey(set_obj), rep.bytes, rep.dropped.size(), rep.dropped.front());
  }
  const std::string name = cm["metadata"]["name"].get<std::string>();
  // Nothing new to keep: skip the write (steady state makes no API writes).
  if (e.cm_exists && cm.value("data", Json()) == e.last_saved) return {};
  for (int attempt = 0; attempt < 2; ++attempt) {
    kube::ApiResult<Json> r = e.cm_exists
                                  ? [&] {
                                      Json u = cm;
                                      u["metadata"]["resourceVersion"] = e.cm_rv;
                                      return deps_.client->update(kube::resources::kConfigMaps, ns, u);
                                    }()
                                  : deps_.client->create(kube::resources::kConfigMaps, ns, cm);
    if (r) {
      e.cm_exists = true;
      e.cm_rv = kube::ObjectResourceVersion(*r);
      e.last_saved = cm.value("data", Json());
      ++stats_.history_writes;
      return {};
    }
    auto kind = r.error().kind;
    if (kind == kube::ErrorKind::kConflict || kind == kube::ErrorKind::kAlreadyExists) {
      // Someone else wrote it (a backfill, a previous leader): take its
      // resourceVersion and write our newer state over it.
      auto cur = deps_.client->get(kube::resources::kConfigMaps, ns, name);
      if (!cur) return unexpected(cur.error());
      e.cm_exists = true;
      e.cm_rv = kube::ObjectResourceVersion(*cur);
      continue;
    }
    if (kind == kube::ErrorKind::kNotFound && e.cm_exists) {
      e.cm_exists = false;
      continue;
    }
    return unexpected(r.error());
  }
  return unexpected(kube::ApiError{kube::ErrorKind::kConflict, 409, "Conflict",
                                   "configmap " + ns + "/" + name + ": still conflicting",
                                   std::nullopt});
}

ctrl::ReconcileResult ForecastReconciler::Reconcile(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  kube::ObjectPtr obj = deps_.shardsets ? deps_.shardsets->get(key) : nullptr;
  if (!obj) {
    sets_.erase(key);
    DropMetrics(key, "");
    return ctrl::Action::AwaitChange();
  }
  auto set = ParseShardSet(*obj);
  if (!set) {
    spdlog::warn("forecast {}: {}", key, set.error().message);
    return ctrl::Action::AwaitChange();
  }
  PolicySettings policy;
  if (deps_.policies) {
    auto all = deps_.policies->ListNamespace(set->ns);
    std::vector<const Json*> ptrs;
    for (const auto& p : all) ptrs.push_back(p.get());
    if (const Json* chosen = SelectPolicy(*obj, ptrs)) {
      auto ps = ParsePolicy(*chosen);
      if (ps) {
        policy = *ps;
      } else {
        spdlog::warn("forecast {}: MigrationPolicy {}: {} (using defaults)", key,
                     kube::ObjectName(*chosen), ps.error().message);
      }
    }
  }
  Entry& e = sets_[key];
  if (!e.state) e.state = std::make_unique<SetState>(opts_.state);
  const auto now = deps_.clock->now();
  if (!e.loaded) {
    auto cm =
        deps_.client->get(kube::resources::kConfigMaps, set->ns, HistoryConfigMapName(set->name));
    if (cm) {
      std::vector<std::string> errors;
      size_t n = LoadHistoryConfigMap(*cm, *e.state, &errors);
      for (const auto& err : errors) spdlog::warn("forecast {}: history: skipped {}", key, err);
      e.cm_exists = true;
      e.cm_rv = kube::ObjectResourceVersion(*cm);
      stats_.history_loads += n;
      spdlog::info("forecast {}: loaded {} series from ConfigMap {}", key, n,
                   HistoryConfigMapName(set->name));
    } else if (cm.error().kind != kube::ErrorKind::kNotFound) {
      return unexpected(cm.error());
    }
    e.loaded = true;
    e.next_sample = now;
    e.next_persist = now + opts_.persist_interval;
  }
  const int64_t t = UnixSeconds();
  if (now >= e.next_sample) {
    std::vector<kube::ObjectPtr> pods =
        deps_.pods ? deps_.pods->ListLabels(set->ns, {{api::kLabelShardSet, set->name}})
                   : std::vector<kube::ObjectPtr>{};
    std::optional<RoutingView> routing = ReadRouting(key, *set);
    if (routing) e.owner_changes.Observe(routing->ranges, t);
    const RoutingView* rv = routing ? &*routing : nullptr;
    Sample(e, *set, pods, rv, t);
    Forecast(e, key, *obj, *set, policy, pods, rv, t);
    e.next_sample = now + opts_.sample_period;
  }
  if (now >= e.next_persist) {
    if (e.dirty && (!deps_.may_write || deps_.may_write())) {
      auto r = Persist(e, *obj, t);
      if (!r) {
        spdlog::warn("forecast {}: saving history failed: {}", key, r.error().to_string());
      } else {
        e.dirty = false;
      }
    }
    e.next_persist = now + opts_.persist_interval;
  }
  auto next = std::min(e.next_sample, e.next_persist);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - deps_.clock->now());
  return ctrl::Action::RequeueAfter(std::max(wait, std::chrono::milliseconds(10)));
}

void WireHandlers(kube::Informer& shardsets, kube::Informer* policies, ctrl::Controller& c) {
  kube::EventHandlers h;
  h.on_add = [&c](const kube::ObjectPtr& o) { c.enqueue(kube::ObjectKey(*o)); };
  h.on_update = [&c](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
    c.enqueue(kube::ObjectKey(*o));
  };
  h.on_delete = [&c](const kube::ObjectPtr& o) { c.enqueue(kube::ObjectKey(*o)); };
  shardsets.AddHandlers(h);
  if (policies) {
    const kube::Store* store = &shardsets.store();
    auto all = [&c, store](const kube::ObjectPtr& o) {
      for (const auto& s : store->ListNamespace(kube::ObjectNamespace(*o)))
        c.enqueue(kube::ObjectKey(*s));
    };
    kube::EventHandlers ph;
    ph.on_add = all;
    ph.on_update = [all](const kube::ObjectPtr&, const kube::ObjectPtr& o) { all(o); };
    ph.on_delete = all;
    policies->AddHandlers(ph);
  }
}

}  // namespace shardcast::forecast
