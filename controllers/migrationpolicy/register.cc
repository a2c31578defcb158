#include "controllers/migrationpolicy/register.h"

#include <memory>

#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/reconciler.h"
#include "operator/manager/manager.h"

namespace shardcast::controllers {

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
  ctrl::Controller& c =
      mgr.add_controller("migrationpolicy", std::make_unique<MigrationPolicyReconciler>(std::move(deps)));
  WireHandlers(policies, sets, pods, cms, c);
}

}  // namespace shardcast::controllers
