// Jittered exponential backoff for reconnects (watches) and hook retries.
//
//   auto b = Backoff::create({.initial = 100ms, .factor = 2, .max = 30s,
//                             .jitter = 0.2, .seed = 42}).value();
//   auto d = b.next();   // 80..100 ms, then 160..200 ms, ... at most 30 s
//   b.reset();           // after a success
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "operator/runtime/clock.h"
#include "util/expected.h"

namespace shardcast::runtime {

struct BackoffOptions {
  std::chrono::nanoseconds initial{std::chrono::milliseconds(100)};  // > 0
  double factor = 2.0;                                               // >= 1
  std::chrono::nanoseconds max{std::chrono::seconds(30)};            // >= initial
  // Fraction in [0, 1]: each delay is reduced by a random share of up to
  // `jitter` of itself, so delays spread out but never exceed `max`.
  double jitter = 0.2;
  std::uint64_t seed = 0;  // 0 picks a random seed
};

class Backoff {
 public:
  // Validates the options; the error names the field.
  [[nodiscard]] static Result<Backoff> create(const BackoffOptions& opts);

  // The delay before the next attempt; grows by `factor` up to `max`.
  std::chrono::nanoseconds next();
  // Back to `initial` (call after a success).
  void reset() {
    attempts_ = 0;
    exponent_ = 0;
  }
  // next() calls since the last reset().
  int attempts() const { return attempts_; }
  // The un-jittered delay next() would start from.
  std::chrono::nanoseconds base_delay() const;

 private:
  explicit Backoff(const BackoffOptions& opts);
  BackoffOptions opts_;
  int attempts_ = 0;
  int exponent_ = 0;  // stops growing once the delay reaches max
  std::mt19937_64 rng_;
};

// Calls fn() (returning a Result<T> or Expected<T, E>) until it succeeds,
// sleeping backoff.next() on `clock` between attempts. Gives up after
// `max_attempts` calls (0 = no limit) or when `stop` is requested, and then
// returns the last failure. The backoff is reset after a success.
template <typename F>
auto retry_with_backoff(Clock& clock, Backoff& backoff, StopSignal& stop, int max_attempts, F&& fn)
    -> decltype(fn()) {
  for (int attempt = 1;; ++attempt) {
    auto r = fn();
    if (r.ok()) {
      backoff.reset();
      return r;
    }
    if (max_attempts > 0 && attempt >= max_attempts) return r;
    if (stop.stop_requested() || stop.sleep_for(clock, backoff.next())) return r;
  }
}

}  // namespace shardcast::runtime
