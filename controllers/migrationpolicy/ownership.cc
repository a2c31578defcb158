// C1 consumer (pure): ShardSet ownership requests become Move or Reassign
// actions; pod endpoints in the routing document follow the pods' IPs.
#include <algorithm>
#include <set>

#include "controllers/api/names.h"
#include "controllers/migrationpolicy/migrationpolicy.h"

namespace shardcast::migrationpolicy {

std::vector<OwnershipRequest> ParseOwnershipRequests(const Json& shardset) {
  std::vector<OwnershipRequest> out;
  if (!shardset.is_object() || !shardset.contains("status")) return out;
  const Json& st = shardset["status"];
  if (!st.is_object() || !st.contains("ownershipRequests") || !st["ownershipRequests"].is_array())
    return out;
  for (const auto& e : st["ownershipRequests"]) {
    if (!e.is_object() || !e.contains("range") || !e["range"].is_number_unsigned() ||
        e["range"].get<uint64_t>() > UINT32_MAX || !e.contains("owner") ||
        !e["owner"].is_string() || !e.contains("reason") || !e["reason"].is_string()) {
      continue;
    }
    OwnershipRequest r{e["range"].get<uint32_t>(), e["owner"].get<std::string>(),
                       e["reason"].get<std::string>()};
    if (r.reason != "ScaleIn" && r.reason != "Shedding" && r.reason != "OwnerGone") continue;
    out.push_back(r);
  }
  return out;
}

std::vector<ActionRecord> ActionsForRequests(const std::vector<OwnershipRequest>& requests,
                                             const std::string& shard_set, const Json& doc,
                                             const std::vector<PodInfo>& pods,
                                             const std::vector<ActionRecord>& unfinished,
                                             int64_t now) {
  std::vector<ActionRecord> out;
  std::set<std::string> owners;
  for (const auto& q : requests) owners.insert(q.owner);
  std::map<std::string, int> load;  // ranges per candidate pod
  for (const auto& p : pods) {
    if (p.role == api::kRoleActive && p.ready && !owners.count(p.name)) load[p.name] = 0;
  }
  if (doc.is_object() && doc.contains("ranges") && doc["ranges"].is_array()) {
    for (const auto& r : doc["ranges"]) {
      auto it = load.find(r.is_object() ? r.value("owner", std::string()) : std::string());
      if (it != load.end()) ++it->second;
    }
  }
  for (const auto& q : requests) {
    const bool covered = std::any_of(unfinished.begin(), unfinished.end(), [&](const auto& a) {
      // In flight, or finished within the last minute (no hot retry loop).
      return (!a.terminal() || now - a.finished_at < 60) && a.shard_set == shard_set &&
             a.range == q.range;
    });
    if (covered || load.empty()) continue;
    auto best = std::min_element(load.begin(), load.end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second < y.second : x.first < y.first;
    });
    ActionRecord a;
    a.id = shard_set + "-" + q.reason + "-" + std::to_string(q.range) + "-" + std::to_string(now);
    std::transform(a.id.begin(), a.id.end(), a.id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    a.shard_set = shard_set;
    a.type = q.reason == "OwnerGone" ? ActionType::kReassign : ActionType::kMove;
    a.range = q.range;
    a.source = q.owner;
    a.target = best->first;
    a.request = q.reason;
    a.message = "ShardSet asks to move " + std::string("range ") + std::to_string(q.range) +
                " off " + q.owner + " (" + q.reason + ")";
    ++best->second;
    out.push_back(a);
  }
  return out;
}

std::optional<Json> RefreshEndpoints(const Json& doc,
                                     const std::map<std::string, std::string>& endpoints) {
  if (!doc.is_object() || !doc.contains("ranges") || !doc["ranges"].is_array() ||
      !doc.contains("epoch") || !doc["epoch"].is_number_integer()) {
    return std::nullopt;
  }
  Json out = doc;
  bool changed = false;
  auto fix = [&](Json& obj, const char* pod_key, const char* ep_key) {
    if (!obj.is_object() || !obj.contains(pod_key) || !obj[pod_key].is_string()) return;
    auto it = endpoints.find(obj[pod_key].get<std::string>());
    if (it == endpoints.end() || it->second.empty()) return;
    if (obj.value(ep_key, Json()) == Json(it->second)) return;
    obj[ep_key] = it->second;
    changed = true;
  };
  for (auto& r : out["ranges"]) {
    fix(r, "owner", "endpoint");
    if (r.is_object() && r.contains("target") && r["target"].is_string()) {
      fix(r, "target", "targetEndpoint");
    }
    if (r.is_object() && r.contains("echoes") && r["echoes"].is_array()) {
      for (auto& e : r["echoes"]) fix(e, "pod", "endpoint");
    }
  }
  if (!changed) return std::nullopt;
  out["epoch"] = doc["epoch"].get<int64_t>() + 1;
  return out;
}

void MergeRequestMoves(const std::map<std::string, std::vector<ActionRecord>>& request_moves,
                       std::vector<ProposalPlan>& plans) {
  // C1 Moves go first in the proposal of their ShardSet; the planner's
  // actions on the same ranges are dropped.
  for (const auto& [name, moves] : request_moves) {
    auto it = std::find_if(plans.begin(), plans.end(),
                           [&](const ProposalPlan& pp) { return pp.shard_set == name; });
    if (it == plans.end()) {
      plans.push_back({name, planner::Plan{}, std::nullopt});
      it = plans.end() - 1;
      it->plan.id = "plan-requests-" + name;
    }
    std::vector<planner::Action> first;
    std::set<uint32_t> ranges;
    for (const auto& m : moves) {
      planner::Action pa;
      pa.type = planner::ActionType::kMove;
      pa.range = m.range;
      pa.from = m.source;
      pa.to = m.target;
      pa.reason = m.message;
      first.push_back(pa);
      if (m.range) ranges.insert(*m.range);
    }
    for (const auto& pa : it->plan.actions) {
      if (!(pa.range && ranges.count(*pa.range))) first.push_back(pa);
    }
    it->plan.actions = first;
  }
}

}  // namespace shardcast::migrationpolicy
