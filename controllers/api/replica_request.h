// How a MigrationPolicy changes the number of active pods of a ShardSet
// without writing the ShardSet's spec (the operator never writes a spec):
// the policy records a request in its own status,
//
//   status.replicaRequests: [{shardSet: kv, replicas: 4, action: <id>, requestedAt: <time>}]
//
// and the ShardSet controller honours the request of the policy that governs
// the set (the one whose status.selectedShardSets lists it; when two do for
// a moment, the oldest by creationTimestamp, then name, as conflicts are
// resolved), clamped to [spec.minReplicas, spec.maxReplicas]. Without a
// request, spec.replicas is the count. Deleting the policy, or the policy no
// longer governing the set, returns the set to spec.replicas.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "operator/kube/informer.h"

namespace shardcast::api {

struct ReplicaRequest {
  std::string policy;  // name of the MigrationPolicy
  int replicas = 0;
  std::string action;  // id of the action that asked, "" when unknown
};

// The request recorded for ShardSet `set` by one MigrationPolicy object, if
// any. Malformed entries are skipped.
inline std::optional<ReplicaRequest> ReplicaRequestIn(const kube::Json& policy,
                                                      const std::string& set) {
  if (!policy.is_object()) return std::nullopt;
  auto st = policy.find("status");
  if (st == policy.end() || !st->is_object()) return std::nullopt;
  auto sel = st->find("selectedShardSets");
  if (sel == st->end() || !sel->is_array()) return std::nullopt;
  bool governs = false;
  for (const auto& n : *sel)
    governs = governs || (n.is_string() && n.get_ref<const std::string&>() == set);
  if (!governs) return std::nullopt;
  auto reqs = st->find("replicaRequests");
  if (reqs == st->end() || !reqs->is_array()) return std::nullopt;
  for (const auto& r : *reqs) {
    if (!r.is_object()) continue;
    auto s = r.find("shardSet");
    auto n = r.find("replicas");
    if (s == r.end() || !s->is_string() || s->get_ref<const std::string&>() != set) continue;
    if (n == r.end() || !n->is_number_integer() || n->get<int64_t>() < 0 ||
        n->get<int64_t>() > 10000)
      continue;
    ReplicaRequest out;
    out.policy = kube::ObjectName(policy);
    out.replicas = static_cast<int>(n->get<int64_t>());
    auto a = r.find("action");
    if (a != r.end() && a->is_string()) out.action = a->get<std::string>();
    return out;
  }
  return std::nullopt;
}

// The request that governs `set` among the MigrationPolicies of its namespace.
inline std::optional<ReplicaRequest> ReplicaRequestFor(const std::vector<kube::ObjectPtr>& policies,
                                                       const std::string& set) {
  std::optional<ReplicaRequest> best;
  std::string best_key;
  for (const auto& p : policies) {
    if (!p) continue;
    auto r = ReplicaRequestIn(*p, set);
    if (!r) continue;
    const kube::Json md = p->value("metadata", kube::Json::object());
    std::string created =
        md.is_object() ? md.value("creationTimestamp", std::string()) : std::string();
    std::string key = created + "/" + r->policy;  // RFC 3339 UTC strings order by time
    if (!best || key < best_key) {
      best = r;
      best_key = key;
    }
  }
  return best;
}

}  // namespace shardcast::api
