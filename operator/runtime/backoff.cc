#include "operator/runtime/backoff.h"

#include <algorithm>
#include <cmath>

namespace shardcast::runtime {

Result<Backoff> Backoff::create(const BackoffOptions& opts) {
  if (opts.initial <= std::chrono::nanoseconds::zero())
    return unexpected(Error{"backoff: initial must be > 0"});
  if (!std::isfinite(opts.factor) || opts.factor < 1.0)
    return unexpected(Error{"backoff: factor must be a finite number >= 1"});
  if (opts.max < opts.initial) return unexpected(Error{"backoff: max must be >= initial"});
  if (!std::isfinite(opts.jitter) || opts.jitter < 0.0 || opts.jitter > 1.0)
    return unexpected(Error{"backoff: jitter must be within [0, 1]"});
  return Backoff(opts);
}

Backoff::Backoff(const BackoffOptions& opts)
    : opts_(opts), rng_(opts.seed != 0 ? opts.seed : std::random_device{}()) {}

std::chrono::nanoseconds Backoff::base_delay() const {
  const double d = static_cast<double>(opts_.initial.count()) * std::pow(opts_.factor, exponent_);
  const double cap = static_cast<double>(opts_.max.count());
  if (!(d < cap)) return opts_.max;
  return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(d));
}

std::chrono::nanoseconds Backoff::next() {
  const std::chrono::nanoseconds base = base_delay();
  // Stop growing the exponent once capped, so it never overflows.
  if (base < opts_.max) ++exponent_;
  ++attempts_;
  if (opts_.jitter == 0.0) return base;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double cut = opts_.jitter * u(rng_);
  return std::chrono::nanoseconds(
      static_cast<std::chrono::nanoseconds::rep>(static_cast<double>(base.count()) * (1.0 - cut)));
}

}  // namespace shardcast::runtime
