// Router telemetry (spec.routers, contract C2): the per-range counters of
// shardcast-router's /metrics, summed over router replicas into one
// monotone total per range, and the bounded status.routerStats built from
// it. Pure: callers pass text, routing state and unix seconds in.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace shardcast::forecast {

// Cumulative counters of one range (one router, or summed over routers).
struct RangeTelemetry {
  double reads = 0, writes = 0;  // shardcast_router_range_requests_total{kind}
  double errors = 0;             // shardcast_router_range_errors_total
  double latency_sum = 0;        // shardcast_router_range_latency_seconds_sum
  // shardcast_router_shadow_comparisons_total{result}: match, mismatch, error.
  double shadow_match = 0, shadow_mismatch = 0, shadow_error = 0;
  // shardcast_router_shadow_latency_seconds_sum{side}: owner, target.
  double shadow_owner_sum = 0, shadow_target_sum = 0;

  double requests() const { return reads + writes; }
  // A shadow read whose target answered with an error counts as compared
  // and mismatched (fail closed): verification must not pass on errors.
  double shadow_compared() const { return shadow_match + shadow_mismatch + shadow_error; }
  double shadow_mismatches() const { return shadow_mismatch + shadow_error; }
};

using RangeTelemetryMap = std::map<int, RangeTelemetry>;

// The per-range router series of one /metrics page. Only the families above
// are read (histogram buckets are skipped before parsing, so a router with
// 4,096 ranges parses quickly); values of one range are summed over other
// labels. Bad lines and bad range labels are reported in `errors` (at most
// 10).
RangeTelemetryMap ParseRouterMetrics(const std::string& text, std::vector<std::string>* errors);

// The per-range counters of every router summed into one monotone total per
// range: each router's increase since its previous scrape is added (a value
// that went down is a router restart: its new value is the increase). A
// router missed in one round is caught up in the next; a router seen for
// the first time contributes its whole counters. The totals only go down
// when the operator restarts (a reader then restarts its baseline, C2).
class RouterTotals {
 public:
  // Adds one router's scrape; returns that router's per-range request rate
  // (reads + writes per second) against its previous scrape (nothing on its
  // first scrape or when `t` did not advance).
  std::map<int, double> Add(const std::string& router, const RangeTelemetryMap& scrape, int64_t t);
  // How many of `routers` have a scrape before `t` (their next scrape gives
  // rates).
  template <typename Routers>
  size_t Baselines(const Routers& routers, int64_t t) const {
    size_t n = 0;
    for (const auto& r : routers) {
      auto it = last_.find(r.name);
      if (it != last_.end() && it->second.t < t) ++n;
    }
    return n;
  }
  // Forgets routers not in `keep` (their totals stay).
  void Retain(const std::set<std::string>& keep);
  // Forgets ranges not in `keep` (merged away).
  void RetainRanges(const std::set<int>& keep);
  const RangeTelemetryMap& totals() const { return totals_; }

 private:
  struct Last {
    int64_t t = 0;
    RangeTelemetryMap counters;
  };
  std::map<std::string, Last> last_;
  RangeTelemetryMap totals_;
};

// Which ranges status.routerStats lists: those whose routing state is not
// stable, then those that changed owner within `recent_seconds` (newest
// change first), at most `max_entries`, returned sorted by id.
struct RangeRouting {
  std::string owner;
  std::string state = "stable";
};
class OwnerChanges {
 public:
  // Records the routing document's ranges at time t (the first observation
  // of a range is not a change).
  void Observe(const std::map<int, RangeRouting>& ranges, int64_t t);
  std::vector<int> Select(int64_t now, int64_t recent_seconds, size_t max_entries) const;

 private:
  std::map<int, RangeRouting> last_;
  std::map<int, int64_t> changed_at_;
};

// status.routerStats (C2): observedAt, routers, ranges[] for `ids` (ids with
// no telemetry are listed with zeros). Numbers: counts as integers, sums of
// seconds to 6 significant digits.
nlohmann::json RouterStatsToStatus(const RangeTelemetryMap& totals, const std::vector<int>& ids,
                                   int routers, int64_t observed_at);

constexpr int64_t kRouterStatsRecentSeconds = 15 * 60;
constexpr size_t kRouterStatsMaxEntries = 64;

}  // namespace shardcast::forecast
