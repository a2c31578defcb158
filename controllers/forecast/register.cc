#include "controllers/forecast/register.h"

#include <spdlog/spdlog.h>

#include "controllers/api/informers.h"
#include "controllers/api/resources.h"
#include "controllers/forecast/reconciler.h"
#include "operator/manager/manager.h"

namespace shardcast::forecast {

namespace {

// Keeps the getter alive as long as the reconciler.
class OwningReconciler final : public ctrl::Reconciler {
 public:
  OwningReconciler(std::shared_ptr<HttpGetter> http, ReconcilerDeps deps, ControllerOptions o)
      : http_(std::move(http)), inner_((deps.http = http_.get(), std::move(deps)), std::move(o)) {}
  ctrl::ReconcileResult Reconcile(const std::string& key) override { return inner_.Reconcile(key); }
  ForecastReconciler& inner() { return inner_; }

 private:
  std::shared_ptr<HttpGetter> http_;
  ForecastReconciler inner_;
};
}  // namespace

ForecastReconciler* RegisterForecastController(manager::Manager& mgr,
                                               const ControllerOptions& options,
                                               std::shared_ptr<HttpGetter> http) {
  kube::Informer& sets = mgr.informer(api::kShardSets);
  kube::Informer& pods = mgr.informer(kube::resources::kPods, api::PodInformerOptions());
  kube::Informer& policies = mgr.informer(api::kMigrationPolicies);
  // Shared with the ShardSet controller (same resource, same options).
  kube::Informer& configmaps =
      mgr.informer(kube::resources::kConfigMaps, api::ConfigMapInformerOptions());
  if (!http) http = std::shared_ptr<HttpGetter>(MakePlainHttpGetter());

  ReconcilerDeps deps;
  deps.client = mgr.client_ptr();
  deps.shardsets = &sets.store();
  deps.pods = &pods.store();
  deps.policies = &policies.store();
  deps.configmaps = &configmaps.store();
  // The manager's clock: under `shardcast run --time-scale` its wall time is
  // domain time (stamps samples, drives forecast steps and refits); steady
  // time (sample and persist schedules, requeues) and waits stay real.
  deps.clock = &mgr.clock();
  auto m = RegisterForecastMetrics(mgr.metrics());
  if (m) {
    deps.metrics = *m;
  } else {
    spdlog::error("forecast metrics: {}", m.error().message);
  }
  deps.may_write = [&mgr] { return mgr.may_write(mgr.fencing_token()); };
  auto owning = std::make_unique<OwningReconciler>(std::move(http), std::move(deps), options);
  ForecastReconciler* inner = &owning->inner();
  ctrl::Controller& c = mgr.AddController("forecast", std::move(owning));
  WireHandlers(sets, &policies, c);
  return inner;
}

}  // namespace shardcast::forecast

namespace shardcast::controllers {

Result<void> RegisterForecastController(
    manager::Manager& mgr, const std::vector<std::pair<std::string, std::string>>& flags) {
  forecast::ControllerOptions o;
  for (const auto& [name, value] : flags) {
    if (auto r = o.Set(name, value); !r) return r;
  }
  forecast::RegisterForecastController(mgr, o);
  return {};
}

}  // namespace shardcast::controllers
