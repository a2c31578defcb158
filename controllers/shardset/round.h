// One reconcile round of the ShardSet reconciler (internal to
// reconciler.cc and steps.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controllers/shardset/last_good.h"
#include "controllers/shardset/reconciler.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {

struct ShardSetReconciler::Round {
  std::string key;
  Json set_obj;
  ShardSetSpec spec;
  Observation obs;
  Desired desired;
  Json cm;                            // the routing ConfigMap as cached (null when absent)
  Json last_good_cm;                  // `<configMapName>-last-good` as cached (null when absent)
  std::optional<LastGood> last_good;  // the best known last good document
  std::string problem;                // Degraded message
  std::string problem_reason;
  uint64_t token = 1;
  std::string replicas_from = "spec";        // or "MigrationPolicy/<name>"
  std::string policy;                        // the governing MigrationPolicy, "" when none
  int64_t epoch = 0;                         // epoch after this round
  std::optional<RoutingDocument> published;  // document after this round
  std::vector<OwnershipRequest> requests;    // as published, with `since`
};

// The uid of `obj`'s controller owner reference, "" when none.
std::string ControllerUid(const Json& obj);

}  // namespace shardcast::shardset
