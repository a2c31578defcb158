// Regularising raw samples into fixed-step series: bucketing of irregular
// samples, gaps as NaN, and request-rate from monotonically increasing
// counters (a drop means the counter was reset). Pure: no I/O.
#pragma once

#include <cstdint>
#include <vector>

#include "util/expected.h"

namespace shardcast::predictor {

// One observation: unix seconds and a value.
struct Sample {
  int64_t t = 0;
  double v = 0.0;
};

// A regular series: values[i] belongs to the bucket [start + i*step, start + (i+1)*step).
// Missing buckets are NaN.
struct RegularSeries {
  int64_t start = 0;
  int64_t step = 60;
  std::vector<double> values;
};

// Aggregates samples into step buckets (mean of the samples falling into
// each bucket). Samples may be unordered and duplicated; non-finite values
// are ignored (they leave a gap). Error if step <= 0 or there are more than
// max_buckets buckets between the first and last sample.
[[nodiscard]] Result<RegularSeries> Bucketize(std::vector<Sample> samples, int64_t step,
                                              int64_t max_buckets = 10'000'000);

// Converts samples of a monotonically increasing counter into per-second
// rates between consecutive samples (stamped at the later sample). A drop
// of the counter is a reset: the increase over that interval is taken to be
// the new value (the counter restarted from zero). Duplicate timestamps are
// collapsed (last wins), non-finite values are skipped.
std::vector<Sample> CounterToRate(std::vector<Sample> samples);

}  // namespace shardcast::predictor
