#include "operator/runtime/clock.h"

#include <algorithm>

namespace shardcast::runtime {

bool RealClock::wait_until(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                           time_point deadline, const std::function<bool()>& pred) {
  // Far deadlines overflow inside the library's clock conversion; wait
  // without a deadline instead (a year is "forever" for the operator).
  if (deadline - now() > std::chrono::hours(24 * 365)) {
    cv.wait(lk, pred);
    return true;
  }
  return cv.wait_until(lk, deadline, pred);
}

Clock& GetRealClock() {
  static RealClock clock;
  return clock;
}

namespace {
// 2026-01-01T00:00:00Z
constexpr std::chrono::seconds kFakeWallStart{1767225600};
}  // namespace

FakeClock::FakeClock()
    : FakeClock(time_point{} + std::chrono::hours(1000),
                std::chrono::system_clock::time_point{kFakeWallStart}) {}

FakeClock::FakeClock(time_point start, std::chrono::system_clock::time_point system_start)
    : start_(start), now_(start), system_start_(system_start) {}

Clock::time_point FakeClock::now() const {
  std::lock_guard<std::mutex> g(mu_);
  return now_;
}

std::chrono::system_clock::time_point FakeClock::SystemNow() const {
  std::lock_guard<std::mutex> g(mu_);
  return system_start_ +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - start_);
}

bool FakeClock::wait_until(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                           time_point deadline, const std::function<bool()>& pred) {
  // Lock order: caller's mutex -> mu_. advance() never holds mu_ while it
  // takes a caller's mutex, so there is no cycle.
  auto w = std::make_shared<Waiter>(Waiter{&cv, lk.mutex(), deadline});
  {
    std::lock_guard<std::mutex> g(mu_);
    waiters_.push_back(w);
  }
  changed_.notify_all();
  // advance() updates now_ and then takes the caller's mutex before it
  // notifies, so a deadline passing between the check and cv.wait() cannot
  // be missed.
  while (!pred() && now() < deadline) cv.wait(lk);
  // Unregister with the caller's mutex released: an advance() in flight may
  // need it to finish notifying, and must be done before cv/mu may die.
  lk.unlock();
  unregister(w);
  lk.lock();
  return pred();
}

void FakeClock::unregister(const std::shared_ptr<Waiter>& w) {
  std::unique_lock<std::mutex> g(mu_);
  changed_.wait(g, [&] { return w->notifying == 0; });
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), w), waiters_.end());
  g.unlock();
  changed_.notify_all();
}

void FakeClock::advance(duration d) {
  std::vector<std::shared_ptr<Waiter>> due;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (d > duration::zero()) now_ += d;
    for (const auto& w : waiters_) {
      if (w->deadline <= now_) {
        ++w->notifying;
        due.push_back(w);
      }
    }
  }
  for (const auto& w : due) {
    { std::lock_guard<std::mutex> g(*w->mu); }
    w->cv->notify_all();
    {
      std::lock_guard<std::mutex> g(mu_);
      --w->notifying;
    }
    changed_.notify_all();
  }
}

std::size_t FakeClock::num_waiters() const {
  std::lock_guard<std::mutex> g(mu_);
  return waiters_.size();
}

bool FakeClock::WaitForWaiters(std::size_t n, std::chrono::milliseconds real_timeout) const {
  std::unique_lock<std::mutex> g(mu_);
  return changed_.wait_for(g, real_timeout, [&] { return waiters_.size() >= n; });
}

void StopSignal::request_stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool StopSignal::stop_requested() const {
  std::lock_guard<std::mutex> g(mu_);
  return stopped_;
}

bool StopSignal::sleep_until(Clock& clock, Clock::time_point deadline) {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopped_ && clock.now() < deadline) {
    clock.wait_until(lk, cv_, deadline, [this] { return stopped_; });
  }
  return stopped_;
}

}  // namespace shardcast::runtime
