#include "controllers/shardset/register.h"

#include <memory>

#include "controllers/api/resources.h"
#include "controllers/shardset/reconciler.h"
#include "operator/manager/manager.h"

namespace shardcast::shardset {

void RegisterShardSetController(manager::Manager& mgr) {
  kube::InformerOptions selected;
  selected.label_selector = api::kLabelShardSet;  // label exists
  kube::Informer& sets = mgr.informer(api::kShardSets);
  kube::InformerOptions pod_options = selected;
  pod_options.transform = kube::PrunePodForCache;  // the controller reads metadata and status only
  pod_options.list_prune = kube::PodCacheListPrune();  // ... and lists are pruned while parsed
  kube::Informer& pods = mgr.informer(kube::resources::kPods, pod_options);
  kube::Informer& cms = mgr.informer(kube::resources::kConfigMaps, selected);
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
  ctrl::Controller& c =
      mgr.add_controller("shardset", std::make_unique<ShardSetReconciler>(std::move(deps)));

  WireHandlers(sets, pods, cms, c, &policies);
}

}  // namespace shardcast::shardset
