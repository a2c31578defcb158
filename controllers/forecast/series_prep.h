// Internal to the forecast controller: a series at the forecast step. The
// pod's own history aggregated to the policy step, or the sum of the ranges
// a pod owns (the composed series), plus the coarse levels a long season's
// profile is built from. Pure; used by state.cc and forecast_pod.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controllers/forecast/state.h"
#include "predictor/history.h"
#include "predictor/series.h"

namespace shardcast::forecast::internal {

// A composed series keeps no samples of its own (they are the ranges'): its
// history is a placeholder of one bucket.
inline const std::vector<predictor::Resolution> kComposedHistory = {{60, 1}};

// The series at the forecast step: the coarsest history level whose step
// divides the policy step, aggregated (mean of present buckets).
struct Prepared {
  std::vector<double> y;
  int64_t step = 60;
  int64_t origin = 0;  // start of the first bucket after y
};

std::optional<Prepared> Prepare(const predictor::History& h, int64_t want_step, size_t max_points);

// The sum of the ranges' series at the forecast step, over the buckets where
// every range has history (a bucket one of them missed is a gap). nullopt
// when a range has no series, no live sample since `fresh_since` (a range
// no longer scraped, or only loaded from a save), or the steps differ.
std::optional<Prepared> Compose(const std::map<int, Series>& ranges, const std::vector<int>& ids,
                                int64_t want_step, size_t max_points, int64_t fresh_since,
                                std::string* why);

// The coarsest level of `h` whose step is above `step` and divides
// `period` (nullopt when none has data).
std::optional<predictor::RegularSeries> CoarseLevel(const predictor::History& h, int64_t step,
                                                    int64_t period);

// The sum of the ranges' coarse levels (a bucket one of them missed is a gap).
std::optional<predictor::RegularSeries> ComposeCoarse(const std::map<int, Series>& ranges,
                                                      const std::vector<int>& ids, int64_t step,
                                                      int64_t period);

}  // namespace shardcast::forecast::internal
