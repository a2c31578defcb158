#include "controllers/migrationpolicy/notices.h"

#include <set>

#include "util/time.h"

namespace shardcast::migrationpolicy {

PlanFindings FindingsOf(const std::string& shard_set, const planner::Plan& plan,
                        const planner::History& history) {
  PlanFindings f;
  f.shard_set = shard_set;
  f.shortfalls = plan.event_shortfalls;
  f.flap_pods = plan.flap_pods;
  for (const auto& pod : plan.flap_pods) {
    auto it = history.pod_last_action.find(pod);
    f.pod_last_action[pod] = it != history.pod_last_action.end() ? it->second : 0;
  }
  return f;
}

std::string ShortfallMessage(const std::string& shard_set, const planner::EventShortfall& s) {
  return "event " + s.event + " (starts " + util::FormatRfc3339(s.start) + ") needs " +
         std::to_string(s.pods_needed) + " active pods in ShardSet " + shard_set +
         " at maxUtilization; maxReplicas is " + std::to_string(s.max_replicas);
}

Condition CapacityShortCondition(const std::vector<PlanFindings>& findings, bool evaluated,
                                 const Json& previous_conditions) {
  if (!evaluated) {
    if (previous_conditions.is_array()) {
      for (const auto& c : previous_conditions) {
        if (c.is_object() && c.value("type", std::string()) == "CapacityShort") {
          return {"CapacityShort", c.value("status", std::string("Unknown")),
                  c.value("reason", std::string("NotEvaluated")),
                  c.value("message", std::string())};
        }
      }
    }
    return {"CapacityShort", "Unknown", "NotEvaluated", "no plan made yet"};
  }
  std::string msg;
  for (const auto& f : findings) {
    for (const auto& s : f.shortfalls)
      msg += (msg.empty() ? "" : "; ") + ShortfallMessage(f.shard_set, s);
  }
  if (msg.empty()) {
    return {"CapacityShort", "False", "CapacitySufficient",
            "maxReplicas covers every declared event"};
  }
  return {"CapacityShort", "True", "MaxReplicasTooLow", msg};
}

int64_t FlapsRefusedOf(const Json& status) {
  if (!status.is_object() || !status.contains("flapsRefused")) return 0;
  const Json& v = status["flapsRefused"];
  if (!v.is_number_integer() || v.get<int64_t>() < 0) return 0;
  return v.get<int64_t>();
}

NoticeLedger::Seen NoticeLedger::Observe(const std::string& policy,
                                         const std::vector<PlanFindings>& findings,
                                         int64_t cooldown_seconds, int64_t now) {
  Seen out;
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> current;
  for (const auto& f : findings) {
    const std::string set_key = policy + "|" + f.shard_set;
    for (const auto& s : f.shortfalls) {
      std::string key = set_key + "|" + s.event + "|" + std::to_string(s.start);
      current.insert(key);
      if (warned_.emplace(key, s.start).second)
        out.events.push_back({true, "MaxReplicasTooLow", ShortfallMessage(f.shard_set, s)});
    }
    int64_t fresh = 0;
    std::string pods;
    for (const auto& pod : f.flap_pods) {
      auto at = f.pod_last_action.count(pod) ? f.pod_last_action.at(pod) : 0;
      if (!flaps_.emplace(set_key + "|" + pod + "|" + std::to_string(at), at).second) continue;
      ++fresh;
      pods += (pods.empty() ? "" : ", ") + pod;
    }
    out.new_flaps += fresh;
    auto last = last_flap_event_.find(set_key);
    if (fresh > 0 && (last == last_flap_event_.end() || now - last->second >= cooldown_seconds)) {
      last_flap_event_[set_key] = now;
      out.events.push_back({false, "FlapRefused",
                            "ShardSet " + f.shard_set + ": refused to undo, within the cooldown " +
                                std::to_string(cooldown_seconds) + "s, the last action on " +
                                pods});
    }
  }
  // A refusal can only recur within the cooldown of the action it protects;
  // a warned event occurrence is forgotten a day after it started, once gone.
  for (auto it = flaps_.begin(); it != flaps_.end();) {
    it = now - it->second > cooldown_seconds + 3600 ? flaps_.erase(it) : std::next(it);
  }
  for (auto it = warned_.begin(); it != warned_.end();) {
    bool ours = it->first.rfind(policy + "|", 0) == 0;
    bool stale = ours && !current.count(it->first) && now - it->second > 86400;
    it = stale ? warned_.erase(it) : std::next(it);
  }
  return out;
}

}  // namespace shardcast::migrationpolicy
