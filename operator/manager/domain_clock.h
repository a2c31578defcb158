// The domain clock of `shardcast run --time-scale` (docs/demo.md): wall time
// (SystemNow) moves `scale` domain seconds per real second, reading `origin`
// at real time `anchor`. Steady time (now) and waits stay on the base clock,
// so timeouts, requeues and sample periods keep their real length.
#pragma once

#include "operator/runtime/clock.h"

namespace shardcast::manager {

struct DomainTime {
  double scale = 1;   // domain seconds per real second, > 0
  double origin = 0;  // domain time (Unix seconds) at `anchor`
  double anchor = 0;  // real time (Unix seconds)
  // The domain time of real time `real` (Unix seconds).
  double ToDomain(double real) const { return origin + scale * (real - anchor); }
};

class DomainClock final : public runtime::Clock {
 public:
  DomainClock(runtime::Clock& base, DomainTime t) : base_(base), t_(t) {}
  time_point now() const override { return base_.now(); }
  std::chrono::system_clock::time_point SystemNow() const override;
  bool wait_until(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                  time_point deadline, const std::function<bool()>& pred) override {
    return base_.wait_until(lk, cv, deadline, pred);
  }
  const DomainTime& time() const { return t_; }

 private:
  runtime::Clock& base_;
  DomainTime t_;
};

}  // namespace shardcast::manager
