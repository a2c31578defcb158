#include "controllers/migrationpolicy/register.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "controllers/api/informers.h"
#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/reconciler.h"
#include "operator/manager/manager.h"

namespace shardcast::controllers {

void RegisterMigrationPolicyController(manager::Manager& mgr) {
  using namespace shardcast::migrationpolicy;
  kube::Informer& policies = mgr.informer(api::kMigrationPolicies);
  kube::Informer& sets = mgr.informer(api::kShardSets);
  kube::Informer& pods = mgr.informer(kube::resources::kPods, api::PodInformerOptions());
  kube::Informer& cms = mgr.informer(kube::resources::kConfigMaps, api::ConfigMapInformerOptions());

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
  // The manager's clock: wall time is domain time under `--time-scale`
  // (cooldowns, windows, stabilization, verification, events, status
  // timestamps); requeue delays stay real.
  deps.now = [&mgr] {
    return static_cast<int64_t>(std::floor(
        std::chrono::duration<double>(mgr.clock().SystemNow().time_since_epoch()).count()));
  };
  if (mgr.options().domain_time) {
    // Timeouts that wait for real work (a pod becoming Ready, a copy making
    // progress, metrics-server's first sample of a new pod) keep their real
    // length: they are given in domain seconds.
    const double scale = mgr.time_scale();
    deps.step.promotion_timeout_seconds =
        static_cast<int64_t>(deps.step.promotion_timeout_seconds * scale);
    deps.step.phase_timeout_seconds = static_cast<int64_t>(deps.step.phase_timeout_seconds * scale);
    deps.step.evidence_timeout_seconds =
        static_cast<int64_t>(deps.step.evidence_timeout_seconds * scale);
    // A PodMetrics timestamp is real wall-clock time: mapped as the domain
    // clock maps it.
    deps.sample_time = [t = *mgr.options().domain_time](int64_t real) {
      return static_cast<int64_t>(std::floor(t.ToDomain(static_cast<double>(real))));
    };
  }
  ctrl::Controller& c = mgr.AddController(
      "migrationpolicy", std::make_unique<MigrationPolicyReconciler>(std::move(deps)));
  WireHandlers(policies, sets, pods, cms, c);
}

}  // namespace shardcast::controllers
