// The forecast controller's per-range inputs beyond the workload's own
// counters: the routing document's view of ranges (owners, states, bounds),
// the routers' telemetry (spec.routers, contract C2) and the shard agent's
// range sizes (POST /shardcast/ranges, contract C4). The parsing is pure;
// the two scrape functions do I/O only through HttpGetter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "controllers/api/shardset.h"
#include "controllers/forecast/http_getter.h"
#include "controllers/forecast/router_stats.h"
#include "util/expected.h"

namespace shardcast::forecast {

struct RoutingView {
  std::map<std::string, std::vector<int>> owned;        // owner -> sorted range ids
  std::map<int, RangeRouting> ranges;                   // id -> owner, state
  std::map<int, std::pair<uint32_t, uint32_t>> bounds;  // id -> [start, end]
};
// routing.json as the ShardSet controller validates it; errors name the field.
[[nodiscard]] Result<RoutingView> ParseRoutingView(const std::string& routing_json);

// The pods a router selector picks: matching labels, not being deleted,
// Ready (condition Ready=True) and with a pod IP.
struct RouterPod {
  std::string name, ip;
};
std::vector<RouterPod> ReadyRouters(const nlohmann::json& pod_list,
                                    const util::LabelSelector& selector);
// The matchLabels of a selector as a list query ("a=b,c=d"); matchExpressions
// are applied by ReadyRouters.
std::string MatchLabelsQuery(const nlohmann::json& selector);

struct RouterRound {
  int scraped = 0;                    // routers scraped this round
  std::map<int, double> range_rates;  // requests/s summed over routers
  std::vector<std::string> failures;  // "<pod>: <error>"
};
// Scrapes GET http://<ip>:<port>/metrics of each router in turn, each call
// bounded by `timeout` and the whole round by `budget` (routers left when
// it runs out are failures of this round, caught up in the next one);
// `elapsed` reads the time spent so far. Adds each scrape to `totals`,
// stamped with `now()` (Unix seconds, domain time) read as its answer
// arrives, and sums the routers' per-range request rates. A rate is over
// the time between two answers, not between two rounds: a round whose
// scrapes come late (a slow list before them) would otherwise count the
// requests of that delay in one interval (at the demo's x120, a second's
// delay is two trace minutes: twice the rate in one sample).
RouterRound ScrapeRouters(HttpGetter& http, RouterTotals& totals,
                          const std::vector<RouterPod>& routers, int port,
                          std::chrono::milliseconds timeout, std::chrono::milliseconds budget,
                          const std::function<std::chrono::milliseconds()>& elapsed,
                          const std::function<int64_t()>& now);

// Contract C4: the body of POST /shardcast/ranges for `ids` (at most 4,096
// ids below 4,096; others are left out) and its answer.
struct RangeSize {
  int64_t keys = 0, bytes = 0;
};
std::string RangesRequestBody(const std::vector<int>& ids, const RoutingView& routing);
[[nodiscard]] Result<std::map<int, RangeSize>> ParseRangesAnswer(const std::string& body);

}  // namespace shardcast::forecast
