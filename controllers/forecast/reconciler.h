// The forecast controller: per ShardSet, sample pod CPU/memory from
// metrics.k8s.io and per-range request counters from the pods'
// Prometheus endpoints every sample period, keep the series in memory and
// in the `<shardset>-history` ConfigMap, refit on a schedule, and expose
// forecasts in status.forecasts and as Prometheus metrics.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "controllers/forecast/http_getter.h"
#include "controllers/forecast/load_factors.h"
#include "controllers/forecast/persist.h"
#include "controllers/forecast/range_sources.h"
#include "controllers/forecast/router_stats.h"
#include "controllers/forecast/settings.h"
#include "controllers/forecast/state.h"
#include "operator/controller/controller.h"
#include "operator/kube/client.h"
#include "operator/kube/informer.h"
#include "operator/runtime/clock.h"
#include "operator/runtime/metrics.h"

namespace shardcast::forecast {

struct ControllerOptions {
  std::chrono::milliseconds sample_period{std::chrono::seconds(60)};
  std::chrono::milliseconds persist_interval{std::chrono::minutes(5)};
  std::chrono::milliseconds scrape_timeout{std::chrono::seconds(2)};
  // All scrapes and range-size calls of one ShardSet's sampling round
  // (workload pods' counters excepted) stop once this much time is spent;
  // what is left waits for the next round.
  std::chrono::milliseconds round_budget{std::chrono::seconds(10)};
  // Range sizes (contract C4) are asked of each pod at most this often.
  std::chrono::milliseconds size_interval{std::chrono::seconds(60)};
  bool scrape_ranges = true;
  size_t snapshot_budget = kDefaultSnapshotBudget;
  StateOptions state;  // resolutions, refit interval (state.refit_interval_seconds)

  // Sets one option from the `shardcast run` flag of that name (without the
  // leading dashes): forecast-sample-period, forecast-persist-interval,
  // forecast-refit-interval, forecast-scrape-timeout (durations like 10s,
  // 5m, at least 1s) and forecast-scrape-ranges (true|false). Errors name
  // the flag. The flags reach the controller through the manager's wiring
  // (operator/cmd), never through the environment.
  [[nodiscard]] Result<void> Set(const std::string& flag, const std::string& value);
};

struct ForecastMetrics {
  runtime::GaugeFamily* peak = nullptr;          // shardset, pod, quantile
  runtime::GaugeFamily* prob_exceed = nullptr;   // shardset, pod
  runtime::GaugeFamily* trusted = nullptr;       // shardset, pod
  runtime::GaugeFamily* observed_cpu = nullptr;  // shardset, pod
};
[[nodiscard]] Result<ForecastMetrics> RegisterForecastMetrics(runtime::Registry& registry);

struct ReconcilerDeps {
  std::shared_ptr<kube::Client> client;
  const kube::Store* shardsets = nullptr;
  const kube::Store* pods = nullptr;      // pods labelled shardcast.dev/shardset
  const kube::Store* policies = nullptr;  // MigrationPolicies; may be null
  // ConfigMaps labelled shardcast.dev/shardset (the routing ConfigMap); may
  // be null: pods are then forecast from their own history.
  const kube::Store* configmaps = nullptr;
  HttpGetter* http = nullptr;       // may be null: no range scraping
  runtime::Clock* clock = nullptr;  // steady time for schedules, wall time for samples
  ForecastMetrics metrics;
  std::function<bool()> may_write;  // leadership/fencing; null = always
};

struct ReconcilerStats {
  uint64_t samples = 0;  // sampling rounds
  uint64_t status_writes = 0;
  uint64_t history_writes = 0;
  uint64_t history_loads = 0;  // series loaded from ConfigMaps
  uint64_t refits = 0;
  uint64_t loads_writes = 0;  // <routing>-loads ConfigMap writes
};

class ForecastReconciler final : public ctrl::Reconciler {
 public:
  ForecastReconciler(ReconcilerDeps deps, ControllerOptions options);
  [[nodiscard]] ctrl::ReconcileResult Reconcile(const std::string& key) override;

  ReconcilerStats stats() const;

 private:
  // The clock's wall time (domain time under --time-scale), Unix seconds.
  int64_t UnixSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               deps_.clock->SystemNow().time_since_epoch())
        .count();
  }
  struct Entry {
    std::unique_ptr<SetState> state;
    bool loaded = false;
    bool cm_exists = false;
    std::string cm_rv;
    bool dirty = false;
    runtime::Clock::time_point next_sample{};
    runtime::Clock::time_point next_persist{};
    nlohmann::json last_written;  // {forecasts, rangeForecasts, routerStats} last patched
    nlohmann::json last_saved;    // history ConfigMap data last written
    std::set<std::string> metric_pods;
    // Router telemetry (spec.routers) and range sizes (C4).
    RouterTotals router_totals;
    OwnerChanges owner_changes;
    int routers_scraped = 0;
    std::map<int, RangeSize> sizes;
    std::map<std::string, runtime::Clock::time_point> next_size;
    // Router load factors: as last written (or found in the ConfigMap), and
    // when the next write may be made.
    std::optional<PodLoadFactors> loads_written;
    runtime::Clock::time_point loads_next_write{};
  };
  void SampleRouters(Entry& e, const SetSettings& set, const RoutingView* routing, int64_t t,
                     runtime::Clock::time_point round_start);
  void SampleSizes(Entry& e, const SetSettings& set, const std::vector<kube::ObjectPtr>& pods,
                   const RoutingView& routing, runtime::Clock::time_point round_start);
  nlohmann::json RangeStatus(Entry& e, const std::vector<PodForecast>& out,
                             const RoutingView& routing, int64_t t,
                             std::map<std::string, RangesRest>* rest);
  void Sample(Entry& e, const SetSettings& set, const std::vector<kube::ObjectPtr>& pods,
              const RoutingView* routing, int64_t t);
  // Writes <routing>-loads when a factor moved by more than kLoadFactorStep,
  // at most once per kLoadsMinInterval (reconciler_loads.cc).
  void PublishLoads(Entry& e, const std::string& key, const nlohmann::json& set_obj,
                    const SetSettings& set, const std::vector<std::string>& active,
                    const std::vector<PodForecast>& out);
  kube::ApiStatus Persist(Entry& e, const nlohmann::json& set_obj, int64_t t);
  void Forecast(Entry& e, const std::string& key, const nlohmann::json& set_obj,
                const SetSettings& set, const PolicySettings& policy,
                const std::vector<kube::ObjectPtr>& pods, const RoutingView* routing, int64_t t);
  // The routing ConfigMap's document (nullopt when absent or invalid).
  std::optional<RoutingView> ReadRouting(const std::string& key, const SetSettings& set);
  void DropMetrics(const std::string& key, const std::string& pod);
  // Forecast()'s stages: a pod's forecast gauges; status.forecasts,
  // rangeForecasts and routerStats written when they differ enough from both
  // the object's and our last write.
  void SetPodMetrics(const std::string& key, const PodForecast& f);
  void WriteStatus(Entry& e, const std::string& key, const nlohmann::json& set_obj,
                   const SetSettings& set, const nlohmann::json& next);

  ReconcilerDeps deps_;
  ControllerOptions opts_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> sets_;
  ReconcilerStats stats_;
};

// Handlers: ShardSet changes enqueue the set; MigrationPolicy changes
// enqueue every ShardSet of the policy's namespace.
void WireHandlers(kube::Informer& shardsets, kube::Informer* policies, ctrl::Controller& c);

}  // namespace shardcast::forecast
