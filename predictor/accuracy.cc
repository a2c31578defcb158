#include "predictor/accuracy.h"

#include <cmath>
#include <cstdio>

namespace shardcast::predictor {

void AccuracyTracker::Record(double actual, double p50, double lo90, double hi90) {
  if (!std::isfinite(actual) || !std::isfinite(p50)) return;
  recs_.push_back({actual, p50, InBand90(actual, lo90, hi90)});
  while (recs_.size() > cfg_.window) recs_.pop_front();
}

double AccuracyTracker::mae() const {
  if (recs_.empty()) return std::nan("");
  double s = 0;
  for (const auto& r : recs_) s += std::fabs(r.actual - r.p50);
  return s / static_cast<double>(recs_.size());
}

double AccuracyTracker::mase() const {
  const size_t lag = cfg_.season == 0 ? 1 : cfg_.season;
  if (recs_.size() <= lag) return std::nan("");
  double s = 0;
  for (size_t i = lag; i < recs_.size(); ++i)
    s += std::fabs(recs_[i].actual - recs_[i - lag].actual);
  const double scale = s / static_cast<double>(recs_.size() - lag);
  if (!(scale > 0)) return std::nan("");
  return mae() / scale;
}

double AccuracyTracker::coverage90() const {
  if (recs_.empty()) return std::nan("");
  size_t c = 0;
  for (const auto& r : recs_) c += r.covered;
  return static_cast<double>(c) / static_cast<double>(recs_.size());
}

bool AccuracyTracker::trusted() const {
  if (recs_.size() < cfg_.min_samples) return false;
  if (!(coverage90() >= cfg_.min_coverage90)) return false;
  const double m = mase();
  if (std::isnan(m)) {
    // Flat actuals: trusted only if the forecast is (almost) exact.
    double level = 0;
    for (const auto& r : recs_) level += std::fabs(r.actual);
    level /= static_cast<double>(recs_.size());
    return mae() <= 1e-6 * (level + 1e-12) + 1e-12;
  }
  return m <= cfg_.max_mase;
}

std::string AccuracyTracker::verdict() const {
  char buf[200];
  if (recs_.size() < cfg_.min_samples) {
    std::snprintf(buf, sizeof buf, "warming up: %zu of %zu matured forecasts", recs_.size(),
                  cfg_.min_samples);
    return buf;
  }
  std::snprintf(buf, sizeof buf,
                "%s: MAE %.4g, MASE %.3f (max %.2f), 90%% coverage %.3f (min %.2f), n=%zu",
                trusted() ? "trusted" : "not trusted", mae(), mase(), cfg_.max_mase, coverage90(),
                cfg_.min_coverage90, recs_.size());
  return buf;
}

}  // namespace shardcast::predictor
