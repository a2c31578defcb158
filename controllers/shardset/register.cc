#include "controllers/shardset/register.h"

#include <chrono>
#include <memory>

#include "controllers/api/informers.h"
#include "controllers/api/resources.h"
#include "controllers/shardset/reconciler.h"
#include "operator/manager/manager.h"
#include "util/time.h"

namespace shardcast::shardset {

void RegisterShardSetController(manager::Manager& mgr) {
  kube::Informer& sets = mgr.informer(api::kShardSets);
  // Pods pruned to metadata and status while listed and cached (the
  // controllers read nothing else); the same options for every controller.
  kube::Informer& pods = mgr.informer(kube::resources::kPods, api::PodInformerOptions());
  kube::Informer& cms = mgr.informer(kube::resources::kConfigMaps, api::ConfigMapInformerOptions());
  kube::Informer& policies = mgr.informer(api::kMigrationPolicies);

  ReconcilerDeps deps;
  deps.client = mgr.client_ptr();
  deps.shardsets = &sets.store();
  deps.pods = &pods.store();
  deps.configmaps = &cms.store();
  deps.policies = &policies.store();
  deps.events = &mgr.events();
  deps.metrics = &mgr.metrics();
  deps.fencing_token = [&mgr] { return mgr.fencing_token(); };
  deps.may_write = [&mgr](uint64_t t) { return mgr.may_write(t); };
  // Status timestamps on the manager's clock (domain time under --time-scale),
  // as the other controllers.
  deps.now = [&mgr] {
    return util::FormatRfc3339(
        std::chrono::duration_cast<std::chrono::seconds>(mgr.clock().SystemNow().time_since_epoch())
            .count());
  };
  ctrl::Controller& c =
      mgr.AddController("shardset", std::make_unique<ShardSetReconciler>(std::move(deps)));

  WireHandlers(sets, pods, cms, c, &policies);
}

}  // namespace shardcast::shardset
