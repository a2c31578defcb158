// Test helpers: a ShardSet of N pods with contiguous equal ranges.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "controllers/planner/planner.h"

namespace shardcast::planner::testing {

inline std::string PodName(int i) { return "kv-" + std::to_string(i); }

struct Fixture {
  PlanInput in;

  // `active` active pods and `warm` warm pods of capacity `cap`, each active pod
  // owning `perPod` contiguous ranges; every range's load is `util` * cap / perPod.
  Fixture(int active, int per_pod, double util = 0.4, int warm = 0, double cap = 1000) {
    in.now = 1795766400;  // 2026-11-27T08:00:00Z, a Friday
    in.state.name = "kv";
    in.state.min_replicas = 1;
    in.state.max_replicas = active + warm + 2;
    in.state.warm_pool_size = warm;
    for (int i = 0; i < active + warm; ++i) {
      in.state.pods.push_back(
          {PodName(i), i < active ? PodRole::kActive : PodRole::kWarm, true, cap});
    }
    const uint64_t total = uint64_t{1} << 32;
    const int n = active * per_pod;
    for (int i = 0; i < n; ++i) {
      Range r;
      r.id = static_cast<uint32_t>(i);
      r.start = static_cast<uint32_t>(total * static_cast<uint64_t>(i) / static_cast<uint64_t>(n));
      r.end = static_cast<uint32_t>(
          total * static_cast<uint64_t>(i + 1) / static_cast<uint64_t>(n) - 1);
      r.owner = PodName(i / per_pod);
      r.size_bytes = 1e6;
      in.state.ranges.push_back(r);
      SetRange(r.id, util * cap / per_pod);
    }
    in.state.configured_ranges = n;
    in.policy.max_concurrent_migrations = 16;
    in.policy.max_moves_per_hour = 1000;
  }

  void SetRange(uint32_t id, double load, bool trusted = true) {
    SeriesForecast f;
    f.observed = load;
    f.p50 = f.p90 = f.p99 = load;
    f.trusted = trusted;
    in.forecasts.ranges[id] = f;
  }
  // Range with observed `obs` and predicted peak `peak`.
  void SetRange(uint32_t id, double obs, double peak) {
    SetRange(id, obs);
    auto& f = in.forecasts.ranges[id];
    f.p50 = f.p90 = f.p99 = peak;
  }
  // Sets every range of `pod` to a total of `util` (observed and predicted).
  void SetPodUtil(int pod, double util) { SetPodUtil(pod, util, util); }
  void SetPodUtil(int pod, double obs_util, double peak_util) {
    int owned = 0;
    for (const auto& r : in.state.ranges) owned += r.owner == PodName(pod) ? 1 : 0;
    const double cap = in.state.pods[static_cast<std::size_t>(pod)].capacity;
    for (const auto& r : in.state.ranges) {
      if (r.owner == PodName(pod)) SetRange(r.id, obs_util * cap / owned, peak_util * cap / owned);
    }
  }
  // A trusted pod forecast: P(exceed) and time to crossing; loads come from the ranges.
  void SetPodForecast(int pod, double prob, std::optional<double> ttc, bool trusted = true) {
    double obs = 0, peak = 0;
    for (const auto& r : in.state.ranges) {
      if (r.owner != PodName(pod)) continue;
      obs += in.forecasts.ranges[r.id].observed;
      peak += in.forecasts.ranges[r.id].p90;
    }
    SeriesForecast f;
    f.observed = obs;
    f.p50 = f.p90 = f.p99 = peak;
    f.prob_exceed = prob;
    f.time_to_crossing_seconds = ttc;
    f.trusted = trusted;
    in.forecasts.pods[PodName(pod)] = f;
  }
};

// The plan for `in`; a test failure (and an empty plan) when it is refused.
inline Plan MustPlan(const PlanInput& in) {
  auto p = MakePlan(in);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? std::move(p).value() : Plan{};
}

inline std::size_t Count(const Plan& p, ActionType t) {
  std::size_t n = 0;
  for (const auto& a : p.actions) n += a.type == t ? 1 : 0;
  return n;
}

inline const PodRow& Row(const Plan& p, const std::string& pod) {
  for (const auto& r : p.pods) {
    if (r.pod == pod) return r;
  }
  static PodRow none;
  return none;
}

inline bool Mentions(const std::vector<Finding>& fs, const std::string& text) {
  for (const auto& f : fs) {
    if (f.message.find(text) != std::string::npos || f.subject.find(text) != std::string::npos)
      return true;
  }
  return false;
}

}  // namespace shardcast::planner::testing
