#include "controllers/migrationpolicy/notices.h"

#include <set>

#include "util/time.h"

namespace shardcast::migrationpolicy {

PlanFindings FindingsOf(const std::string& shardSet, const planner::Plan& plan,
                        const planner::History& history) {
  PlanFindings f;
  f.shardSet = shardSet;
  f.shortfalls = plan.eventShortfalls;
  f.flapPods = plan.flapPods;
  for (const auto& pod : plan.flapPods) {
    auto it = history.podLastAction.find(pod);
    f.podLastAction[pod] = it != history.podLastAction.end() ? it->second : 0;
  }
  return f;
}

std::string ShortfallMessage(const std::string& shardSet, const planner::EventShortfall& s) {
  return "event " + s.event + " (starts " + util::FormatRfc3339(s.start) + ") needs " +
         std::to_string(s.podsNeeded) + " active pods in ShardSet " + shardSet +
         " at maxUtilization; maxReplicas is " + std::to_string(s.maxReplicas);
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
      msg += (msg.empty() ? "" : "; ") + ShortfallMessage(f.shardSet, s);
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
                                         int64_t cooldownSeconds, int64_t now) {
  Seen out;
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> current;
  for (const auto& f : findings) {
    const std::string set_key = policy + "|" + f.shardSet;
    for (const auto& s : f.shortfalls) {
      std::string key = set_key + "|" + s.event + "|" + std::to_string(s.start);
      current.insert(key);
      if (warned_.emplace(key, s.start).second)
        out.events.push_back({true, "MaxReplicasTooLow", ShortfallMessage(f.shardSet, s)});
    }
    int64_t fresh = 0;
    std::string pods;
    for (const auto& pod : f.flapPods) {
      auto at = f.podLastAction.count(pod) ? f.podLastAction.at(pod) : 0;
      if (!flaps_.emplace(set_key + "|" + pod + "|" + std::to_string(at), at).second) continue;
      ++fresh;
      pods += (pods.empty() ? "" : ", ") + pod;
    }
    out.newFlaps += fresh;
    auto last = last_flap_event_.find(set_key);
    if (fresh > 0 && (last == last_flap_event_.end() || now - last->second >= cooldownSeconds)) {
      last_flap_event_[set_key] = now;
      out.events.push_back({false, "FlapRefused",
                            "ShardSet " + f.shardSet + ": refused to undo, within the cooldown " +
                                std::to_string(cooldownSeconds) + "s, the last action on " + pods});
    }
  }
  // A refusal can only recur within the cooldown of the action it protects;
  // a warned event occurrence is forgotten a day after it started, once gone.
  for (auto it = flaps_.begin(); it != flaps_.end();) {
    it = now - it->second > cooldownSeconds + 3600 ? flaps_.erase(it) : std::next(it);
  }
  for (auto it = warned_.begin(); it != warned_.end();) {
    bool ours = it->first.rfind(policy + "|", 0) == 0;
    bool stale = ours && !current.count(it->first) && now - it->second > 86400;
    it = stale ? warned_.erase(it) : std::next(it);
  }
  return out;
}

}  // namespace shardcast::migrationpolicy
