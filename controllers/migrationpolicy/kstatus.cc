#include "controllers/migrationpolicy/kstatus.h"

#include <algorithm>

namespace shardcast::migrationpolicy {
namespace {

bool EveryMinute(const std::string& cron) {
  // Five fields, each "*" or "*/1".
  int fields = 0;
  size_t i = 0;
  while (i < cron.size()) {
    while (i < cron.size() && (cron[i] == ' ' || cron[i] == '\t')) ++i;
    size_t start = i;
    while (i < cron.size() && cron[i] != ' ' && cron[i] != '\t') ++i;
    if (i == start) break;
    std::string f = cron.substr(start, i - start);
    if (f != "*" && f != "*/1") return false;
    ++fields;
  }
  return fields == 5;
}

}  // namespace

std::string NeverActs(const PolicySpec& spec) {
  const auto& windows = spec.planner.windows;
  if (!windows.empty() &&
      std::all_of(windows.begin(), windows.end(),
                  [](const planner::Schedule& w) { return w.duration_seconds <= 0; })) {
    return "spec.windows: every window has zero length, so no action can ever start";
  }
  for (size_t i = 0; i < spec.planner.blackouts.size(); ++i) {
    const auto& b = spec.planner.blackouts[i];
    if (b.duration_seconds >= 60 && EveryMinute(b.cron)) {
      return "spec.blackouts[" + std::to_string(i) +
             "]: starts every minute and lasts at least a minute, so no action can ever start";
    }
  }
  return "";
}

void AddKstatusConditions(std::vector<Condition>& conds, const PolicySpec& spec,
                          const Selection& sel) {
  api::Verdict v;
  const Condition* blocked = api::FindCondition(conds, "Blocked");
  std::string never = NeverActs(spec);
  if (!never.empty()) {
    v = {api::Verdict::State::kStalled, "WindowNeverOpens", never};
  } else if (blocked != nullptr && blocked->status == "True") {
    v = {api::Verdict::State::kStalled, blocked->reason, blocked->message};
  } else if (sel.governed.empty() && !sel.conflicts.empty()) {
    v = {api::Verdict::State::kStalled, "ShardSetSelectedByMultiplePolicies",
         "every ShardSet this policy selects is governed by another (older) policy"};
  }
  api::ApplyVerdict(conds, v);
  if (v.state == api::Verdict::State::kCurrent && sel.governed.empty()) {
    for (auto& c : conds) {
      if (c.type == api::kConditionReady) {
        c = {api::kConditionReady, "False", "NoShardSetSelected",
             "the selector matches no ShardSet in the namespace yet"};
      }
    }
  }
}

std::vector<Condition> InvalidSpecConditions(const std::string& message) {
  std::vector<Condition> conds = {{api::kConditionReady, "False", "InvalidSpec", message}};
  api::ApplyVerdict(conds, {api::Verdict::State::kStalled, "InvalidSpec", message});
  return conds;
}

bool InvalidSpecRecorded(const nlohmann::json& prev_status, const std::string& message,
                         int64_t generation) {
  if (!prev_status.is_object() ||
      prev_status.value("observedGeneration", nlohmann::json()) != generation) {
    return false;
  }
  const nlohmann::json conds = prev_status.value("conditions", nlohmann::json::array());
  if (!conds.is_array()) return false;
  for (const auto& c : conds) {
    if (c.is_object() && c.value("type", nlohmann::json()) == api::kConditionStalled &&
        c.value("status", nlohmann::json()) == "True" &&
        c.value("message", nlohmann::json()) == message) {
      return true;
    }
  }
  return false;
}

}  // namespace shardcast::migrationpolicy
