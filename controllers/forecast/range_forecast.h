// Range forecasts (contract C3): each range's share of its pod's forecast,
// the bounded status.rangeForecasts (top ranges per pod by p90) and each
// pod's rangesRest summary. Pure.
//
// A range's forecast is its pod's forecast (peak p50 and p90 over the
// horizon) times the range's share of the pod's load, the share being the
// range's mean request rate over the recent window among the ranges the pod
// owns. Ranges are not fitted one by one: 4,096 model fits per refit would
// not fit the operator's sampling budget, and a pod's ranges share its
// seasons. What this cannot see is a range whose trend differs from its
// pod's (its share is taken as constant over the horizon).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controllers/forecast/state.h"

namespace shardcast::forecast {

struct RangeForecast {
  int range = 0;
  std::string pod;
  double p50 = 0, p90 = 0;  // capacity metric units
  std::optional<double> read_share;
  std::optional<int64_t> size_bytes, keys;
};

// Splits `pod`'s forecast over `ids` (the ranges it owns) by `recent_rate`
// (range id -> mean request rate; missing or non-finite = 0). When no range
// has a positive rate the forecast is split evenly.
std::vector<RangeForecast> SplitPodForecast(const PodForecast& pod, const std::vector<int>& ids,
                                            const std::map<int, double>& recent_rate);

// The published form: at most `top_per_pod` ranges per pod by p90 (ties by
// id), sorted by (pod, -p90, range); every other range of a pod is summed
// into `rest` (one entry per pod that has ranges, count 0 when none left).
nlohmann::json RangeForecastsToStatus(std::vector<RangeForecast> all, size_t top_per_pod,
                                      std::map<std::string, RangesRest>* rest);

// Whether two status.rangeForecasts lists differ enough to write: other
// (range, pod) entries, or a p90 by more than 10% or 2% of `capacity`.
bool RangeForecastsDiffer(const nlohmann::json& a, const nlohmann::json& b, double capacity);

// Whether the forecast controller's status parts differ enough to write.
// Both are objects {forecasts, rangeForecasts, routerStats} (null = absent):
// MateriallyDifferent for forecasts, RangeForecastsDiffer for
// rangeForecasts, and for routerStats another router count or any other
// range entry (its counters feed the executor's shadow judgement, so they
// are written as they change; observedAt alone is not a change).
bool StatusDiffers(const nlohmann::json& next, const nlohmann::json& current, double capacity);

constexpr size_t kRangeForecastsPerPod = 16;

}  // namespace shardcast::forecast
