// Online accuracy of one series' forecasts: rolling MAE, MASE and 90% band
// coverage over the last `window` matured forecasts, and a trusted()
// verdict so the operator can fall back to reactive behaviour.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

namespace shardcast::predictor {

// Whether `actual` lies in the 90% band [lo90, hi90] (ends included).
inline bool InBand90(double actual, double lo90, double hi90) {
  return !(actual < lo90) && !(actual > hi90);
}

struct AccuracyConfig {
  size_t window = 288;           // matured forecasts kept
  size_t season = 1;             // MASE uses the seasonal-naive error at this lag (in records)
  size_t min_samples = 30;       // fewer: not trusted ("warming up")
  double max_mase = 1.2;         // rolling MASE above this: not trusted
  double min_coverage90 = 0.75;  // 90% band coverage below this: not trusted
};

class AccuracyTracker {
 public:
  explicit AccuracyTracker(AccuracyConfig cfg = {}) : cfg_(cfg) {}

  // Records one matured forecast: the actual value and what was predicted
  // for it (median and the 5%/95% ends of the 90% band). Non-finite inputs
  // are ignored.
  void Record(double actual, double p50, double lo90, double hi90);

  size_t count() const { return recs_.size(); }
  double mae() const;
  // MAE divided by the mean absolute seasonal-naive error of the actuals in
  // the window (lag `season`). NaN if that scale is undefined or zero.
  double mase() const;
  double coverage90() const;

  // Rule: trusted iff count() >= min_samples, coverage90() >= min_coverage90
  // and (mase() <= max_mase or the naive scale is zero and mae() is ~0).
  bool trusted() const;
  // Human-readable reason for the verdict.
  std::string verdict() const;

 private:
  struct Rec {
    double actual, p50;
    bool covered;
  };
  AccuracyConfig cfg_;
  std::deque<Rec> recs_;
};

}  // namespace shardcast::predictor
