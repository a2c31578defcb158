// A long seasonal cycle (a week) taken from a coarse history and used with a
// forecast at a fine step whose history is too short for that cycle: at the
// default 1-minute step a weekly season needs two weeks of 1-minute points,
// but the pod series keeps three days at 1 minute and five weeks at 15
// minutes. The profile is the mean deviation of each phase slot of the cycle
// (one coarse step wide) from the local level (the mean over one cycle
// centred on the point); ForecastWithProfile removes it from the fine
// series, forecasts the remainder (with its own shorter seasons) and adds
// it back. Pure.
#pragma once

#include <cstdint>
#include <vector>

#include "predictor/forecaster.h"
#include "predictor/series.h"
#include "util/expected.h"

namespace shardcast::predictor {

struct SeasonProfile {
  int64_t period_seconds = 604800;
  int64_t slot_seconds = 900;  // the coarse step
  std::vector<double> slot;    // additive deviation per phase slot; phase 0 at t = 0 (Unix)
  // Deviation at time t (linear between slot centres, cyclic).
  double At(int64_t t) const;
};

// The profile of `coarse` for `period_seconds` (a multiple of coarse.step):
// needs at least `min_cycles` full cycles of data and every slot observed
// at least `min_cycles` times; errors say which condition failed.
[[nodiscard]] Result<SeasonProfile> SeasonalProfile(const RegularSeries& coarse,
                                                    int64_t period_seconds, int min_cycles = 2);

// Forecast of `y` (one value per `step` from bucket start `start`) with
// `profile` removed before fitting and added back to the point, the median
// and every quantile (the error scale is that of the remainder).
[[nodiscard]] Result<ForecastResult> ForecastWithProfile(const std::vector<double>& y,
                                                         int64_t start, int64_t step,
                                                         const SeasonProfile& profile,
                                                         const ForecastConfig& cfg);

}  // namespace shardcast::predictor
