#include "controllers/migrationpolicy/register.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/reconciler.h"
#include "operator/manager/manager.h"

namespace shardcast::controllers {

namespace {
// The domain clock of `shardcast run --time-scale` (docs/demo.md), exported by
// main as SHARDCAST_TIME_SCALE / _ORIGIN / _ANCHOR (unix seconds): `now` of
// the reconciler (cooldowns, windows, stabilization, verification, events,
// status timestamps) reads domain time. Requeue delays stay real.
bool DomainClockFromEnv(double* scale, double* origin, double* anchor) {
  if (std::getenv("SHARDCAST_TIME_SCALE") == nullptr) return false;
  auto num = [](const char* name, double* out) {
    const char* v = std::getenv(name);
    if (v == nullptr) return false;
    char* end = nullptr;
    *out = std::strtod(v, &end);
    return end != v && *end == '\0' && std::isfinite(*out);
  };
  if (!num("SHARDCAST_TIME_SCALE", scale) || *scale <= 0 || !num("SHARDCAST_TIME_ORIGIN", origin) ||
      !num("SHARDCAST_TIME_ANCHOR", anchor)) {
    spdlog::error("migrationpolicy controller: SHARDCAST_TIME_SCALE/_ORIGIN/_ANCHOR must be numbers (scale > 0); "
                  "using the real clock");
    return false;
  }
  return true;
}
}  // namespace

void RegisterMigrationPolicyController(manager::Manager& mgr) {
  using namespace shardcast::migrationpolicy;
  kube::InformerOptions selected;
  selected.label_selector = api::kLabelShardSet;  // same options as the ShardSet controller's
  kube::Informer& policies = mgr.informer(api::kMigrationPolicies);
  kube::Informer& sets = mgr.informer(api::kShardSets);
  kube::Informer& pods = mgr.informer(kube::resources::kPods, selected);
  kube::Informer& cms = mgr.informer(kube::resources::kConfigMaps, selected);

  ReconcilerDeps deps;
  deps.client = mgr.client_ptr();
  deps.policies = &policies.store();
  deps.shardsets = &sets.store();
  deps.pods = &pods.store();
  deps.configmaps = &cms.store();
  deps.events = &mgr.events();
  deps.metrics = &mgr.metrics();
  deps.fencing_token = [&mgr] { return mgr.fencing_token(); };
  deps.may_write = [&mgr](uint64_t t) { return mgr.may_write(t); };
  if (double scale = 1, origin = 0, anchor = 0; DomainClockFromEnv(&scale, &origin, &anchor)) {
    deps.now = [scale, origin, anchor] {
      const double real =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      return static_cast<int64_t>(std::floor(origin + scale * (real - anchor)));
    };
    // Timeouts that wait for real work (a pod becoming Ready, a copy making
    // progress) keep their real length: they are given in domain seconds.
    deps.step.promotionTimeoutSeconds = static_cast<int64_t>(deps.step.promotionTimeoutSeconds * scale);
    deps.step.phaseTimeoutSeconds = static_cast<int64_t>(deps.step.phaseTimeoutSeconds * scale);
  }
  ctrl::Controller& c =
      mgr.add_controller("migrationpolicy", std::make_unique<MigrationPolicyReconciler>(std::move(deps)));
  WireHandlers(policies, sets, pods, cms, c);
}

}  // namespace shardcast::controllers
