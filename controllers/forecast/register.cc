#include "controllers/forecast/register.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "controllers/api/resources.h"
#include "controllers/forecast/reconciler.h"
#include "operator/manager/manager.h"

namespace shardcast::forecast {

namespace {

// The domain clock of `shardcast run --time-scale` (docs/demo.md): exported by
// main as SHARDCAST_TIME_SCALE / _ORIGIN / _ANCHOR (unix seconds). Only the
// wall time moves at the scaled rate: it stamps samples and drives forecast
// steps and refits. Steady time (the sample and persist schedules, requeues)
// and waits stay on the base clock.
class DomainClock final : public runtime::Clock {
 public:
  DomainClock(runtime::Clock& base, double scale, double origin, double anchor)
      : base_(base), scale_(scale), origin_(origin), anchor_(anchor) {}
  time_point now() const override { return base_.now(); }
  std::chrono::system_clock::time_point system_now() const override {
    const double real = std::chrono::duration<double>(base_.system_now().time_since_epoch()).count();
    const double domain = origin_ + scale_ * (real - anchor_);
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(domain)));
  }
  bool wait_until(std::unique_lock<std::mutex>& lk, std::condition_variable& cv, time_point deadline,
                  const std::function<bool()>& pred) override {
    return base_.wait_until(lk, cv, deadline, pred);
  }

 private:
  runtime::Clock& base_;
  double scale_, origin_, anchor_;
};

// Null when no domain clock is configured (or its variables are garbage).
std::unique_ptr<runtime::Clock> DomainClockFromEnv(runtime::Clock& base) {
  const char* s = std::getenv("SHARDCAST_TIME_SCALE");
  if (s == nullptr) return nullptr;
  auto num = [](const char* name, double* out) {
    const char* v = std::getenv(name);
    if (v == nullptr) return false;
    char* end = nullptr;
    *out = std::strtod(v, &end);
    return end != v && *end == '\0' && std::isfinite(*out);
  };
  double scale = 0, origin = 0, anchor = 0;
  if (!num("SHARDCAST_TIME_SCALE", &scale) || scale <= 0 || !num("SHARDCAST_TIME_ORIGIN", &origin) ||
      !num("SHARDCAST_TIME_ANCHOR", &anchor)) {
    spdlog::error("forecast controller: SHARDCAST_TIME_SCALE/_ORIGIN/_ANCHOR must be numbers (scale > 0); "
                  "using the real clock");
    return nullptr;
  }
  return std::make_unique<DomainClock>(base, scale, origin, anchor);
}

// Keeps the getter alive as long as the reconciler.
class OwningReconciler final : public ctrl::Reconciler {
 public:
  OwningReconciler(std::shared_ptr<HttpGetter> http, std::unique_ptr<runtime::Clock> clock, ReconcilerDeps deps,
                   ControllerOptions o)
      : http_(std::move(http)),
        clock_(std::move(clock)),
        inner_((deps.http = http_.get(), deps.clock = clock_ ? clock_.get() : deps.clock, std::move(deps)),
               std::move(o)) {}
  ctrl::ReconcileResult reconcile(const std::string& key) override { return inner_.reconcile(key); }
  ForecastReconciler& inner() { return inner_; }

 private:
  std::shared_ptr<HttpGetter> http_;
  std::unique_ptr<runtime::Clock> clock_;  // the domain clock, if any
  ForecastReconciler inner_;
};
}  // namespace

ForecastReconciler* RegisterForecastController(manager::Manager& mgr, const ControllerOptions& options,
                                               std::shared_ptr<HttpGetter> http) {
  kube::InformerOptions selected;
  selected.label_selector = api::kLabelShardSet;  // label exists
  kube::Informer& sets = mgr.informer(api::kShardSets);
  kube::Informer& pods = mgr.informer(kube::resources::kPods, selected);
  kube::Informer& policies = mgr.informer(api::kMigrationPolicies);
  // Shared with the ShardSet controller (same resource, same selector).
  kube::Informer& configmaps = mgr.informer(kube::resources::kConfigMaps, selected);
  if (!http) http = std::shared_ptr<HttpGetter>(MakePlainHttpGetter());

  ReconcilerDeps deps;
  deps.client = mgr.client_ptr();
  deps.shardsets = &sets.store();
  deps.pods = &pods.store();
  deps.policies = &policies.store();
  deps.configmaps = &configmaps.store();
  deps.clock = &mgr.clock();
  auto m = RegisterForecastMetrics(mgr.metrics());
  if (m) {
    deps.metrics = *m;
  } else {
    spdlog::error("forecast metrics: {}", m.error().message);
  }
  deps.may_write = [&mgr] { return mgr.may_write(mgr.fencing_token()); };
  auto owning =
      std::make_unique<OwningReconciler>(std::move(http), DomainClockFromEnv(mgr.clock()), std::move(deps), options);
  ForecastReconciler* inner = &owning->inner();
  ctrl::Controller& c = mgr.add_controller("forecast", std::move(owning));
  WireHandlers(sets, &policies, c);
  return inner;
}

}  // namespace shardcast::forecast

namespace shardcast::controllers {

void RegisterForecastController(manager::Manager& mgr) {
  auto o = forecast::ControllerOptions::FromEnv();
  if (!o) spdlog::error("forecast controller: {} (using defaults)", o.error().message);
  forecast::RegisterForecastController(mgr, o ? *o : forecast::ControllerOptions{});
}

}  // namespace shardcast::controllers
