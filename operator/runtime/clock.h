// Injectable clock. Everything in the operator that waits on time takes a
// Clock& so tests can drive time with FakeClock instead of sleeping.
//
// Waiting is done through Clock::wait_until(lock, cv, deadline, pred): with
// the real clock it is a plain condition-variable wait; with FakeClock the
// waiter is registered so that FakeClock::advance() wakes it when its
// deadline passes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace shardcast::runtime {

class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  // Monotonic time (steady_clock-like).
  virtual time_point now() const = 0;
  // Wall-clock time (for timestamps in status, events and logs).
  virtual std::chrono::system_clock::time_point SystemNow() const = 0;

  // Blocks on `cv` until pred() holds or now() >= deadline. `lk` must hold
  // the mutex that guards the state pred() reads and that notifiers of `cv`
  // take; it is held again on return. Returns pred() evaluated under `lk` at
  // return, so callers loop on their own condition as with any cv wait.
  // time_point::max() means "no deadline".
  virtual bool wait_until(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                          time_point deadline, const std::function<bool()>& pred) = 0;

  bool wait_for(std::unique_lock<std::mutex>& lk, std::condition_variable& cv, duration d,
                const std::function<bool()>& pred) {
    return wait_until(lk, cv, DeadlineAfter(d), pred);
  }

  // now() + d, saturating at time_point::max().
  time_point DeadlineAfter(duration d) const {
    const time_point t = now();
    if (d <= duration::zero()) return t;
    if (d >= time_point::max() - t) return time_point::max();
    return t + d;
  }
};

// The process clock: steady_clock and system_clock.
class RealClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point SystemNow() const override {
    return std::chrono::system_clock::now();
  }
  bool wait_until(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                  time_point deadline, const std::function<bool()>& pred) override;
};

// A process-wide RealClock for production wiring.
Clock& GetRealClock();

// Manually driven clock for tests. Time moves only through advance()/set().
class FakeClock final : public Clock {
 public:
  // Starts at an arbitrary non-zero steady time and a fixed wall time
  // (2026-01-01T00:00:00Z) unless given.
  FakeClock();
  FakeClock(time_point start, std::chrono::system_clock::time_point system_start);

  time_point now() const override;
  std::chrono::system_clock::time_point SystemNow() const override;
  bool wait_until(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                  time_point deadline, const std::function<bool()>& pred) override;

  // Moves time forward by d (negative d is ignored) and wakes every waiter
  // whose deadline has been reached.
  void advance(duration d);

  // Number of threads currently inside wait_until() on this clock.
  std::size_t num_waiters() const;
  // Real-time wait (for tests) until at least n threads are inside
  // wait_until(). Returns false on timeout.
  bool WaitForWaiters(std::size_t n, std::chrono::milliseconds real_timeout) const;

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mu;
    time_point deadline;
    int notifying = 0;  // advance() calls currently touching cv/mu; guarded by mu_
  };

  void unregister(const std::shared_ptr<Waiter>& w);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // waiter set or notifying counts changed
  time_point start_;
  time_point now_;
  std::chrono::system_clock::time_point system_start_;
  std::vector<std::shared_ptr<Waiter>> waiters_;
};

// A one-shot stop flag that sleeps on a Clock can be interrupted by, for
// reconnect and retry loops: `while (!stop.sleep_for(clock, backoff.next()))`.
class StopSignal {
 public:
  void request_stop();
  bool stop_requested() const;
  // Sleeps until `deadline` on `clock`. Returns true if stop was requested
  // (before or during the sleep), false when the time simply passed.
  bool sleep_until(Clock& clock, Clock::time_point deadline);
  bool sleep_for(Clock& clock, Clock::duration d) {
    return sleep_until(clock, clock.DeadlineAfter(d));
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace shardcast::runtime
