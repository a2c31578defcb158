// The report: whether actions may start now (windows, blackouts), the pod
// table before and after the plan, and the plan's stable id.
#include <algorithm>
#include <cstdio>

#include "controllers/planner/placement.h"
#include "controllers/planner/planner_internal.h"
#include "controllers/planner/schedule.h"

namespace shardcast::planner::internal {
namespace {

// Stable id over the actions (and the ShardSet name).
std::string PlanId(const std::string& shard_set, const std::vector<Action>& actions) {
  std::string canon = shard_set;
  for (const auto& a : actions) {
    canon += "|" + std::string(ActionTypeName(a.type)) + ":" +
             (a.range ? std::to_string(*a.range) : "") + ":" +
             (a.other ? std::to_string(*a.other) : "") + ":" + a.pod + ":" + a.from + ":" + a.to +
             ":" + (a.split_at ? std::to_string(*a.split_at) : "");
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "plan-%016llx", static_cast<unsigned long long>(Fnv1a64(canon)));
  return buf;
}

}  // namespace

bool Planner::Allowed(std::string& why) const {
  bool in_window = true;
  if (pol_.in_window) {
    in_window = *pol_.in_window;
  } else if (!pol_.windows.empty()) {
    in_window = false;
    for (const auto& w : pol_.windows) {
      auto c = Cron::Parse(w.cron);
      if (c && c->ActiveAt(in_.now, w.duration_seconds)) in_window = true;
    }
  }
  if (!in_window) {
    why = "outside every allowed window";
    return false;
  }
  if (pol_.in_blackout) {
    if (*pol_.in_blackout) {
      why = "inside a blackout";
      return false;
    }
    return true;
  }
  for (std::size_t i = 0; i < pol_.blackouts.size(); ++i) {
    auto c = Cron::Parse(pol_.blackouts[i].cron);
    if (c && c->ActiveAt(in_.now, pol_.blackouts[i].duration_seconds)) {
      why = "inside blackout " + std::to_string(i) + " (\"" + pol_.blackouts[i].cron + "\")";
      return false;
    }
  }
  return true;
}

void Planner::Report(bool allowed, const std::string& why) {
  double mean_before = 0;
  int n = 0;
  for (std::size_t p = 0; p < in_.state.pods.size(); ++p) {
    if (in_.state.pods[p].role == PodRole::kActive) {
      mean_before += pods_[p].load_before / Cap(p);
      ++n;
    }
  }
  mean_before = n ? mean_before / n : 0;
  if (!allowed) {
    // Outside the windows or in a blackout: every action becomes a finding.
    for (const auto& a : plan_.actions) {
      std::string subject = a.range ? "range/" + std::to_string(*a.range) : a.pod;
      plan_.blocked.push_back({subject, std::string(ActionTypeName(a.type)) + " not done: " + why +
                                            " (" + a.reason + ")"});
    }
    plan_.actions.clear();
    plan_.moves = 0;
    for (auto& pod : pods_) pod.load = pod.load_before;
    st_ = in_.state;
  }
  std::vector<std::size_t> count_before(in_.state.pods.size(), 0),
      count_after(in_.state.pods.size(), 0);
  for (const auto& r : in_.state.ranges) ++count_before[pod_idx_.at(r.owner)];
  for (const auto& r : st_.ranges) ++count_after[pod_idx_.at(r.owner)];
  for (std::size_t p = 0; p < in_.state.pods.size(); ++p) {
    const auto& pod = in_.state.pods[p];
    PodRow row;
    row.pod = pod.name;
    row.role = st_.pods[p].role;
    row.ready = pod.ready;
    row.capacity = pod.capacity;
    row.observed = pods_[p].observed / Cap(p);
    row.before = pods_[p].load_before / Cap(p);
    row.after = std::max(0.0, pods_[p].load) / Cap(p);
    row.imbalance = pod.role == PodRole::kActive ? row.before - mean_before : 0;
    row.ranges_before = count_before[p];
    row.ranges_after = count_after[p];
    plan_.pods.push_back(row);
  }
  plan_.id = PlanId(in_.state.name, plan_.actions);
}

}  // namespace shardcast::planner::internal
