#include "operator/runtime/clock.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, AdvanceMovesSteadyAndWallTime) {
  FakeClock clock;
  const auto t0 = clock.now();
  const auto w0 = clock.SystemNow();
  clock.advance(1500ms);
  EXPECT_EQ(clock.now() - t0, 1500ms);
  EXPECT_EQ(clock.SystemNow() - w0, 1500ms);
  clock.advance(-5s);  // ignored: time never goes back
  EXPECT_EQ(clock.now() - t0, 1500ms);
}

TEST(FakeClockTest, WaitUntilTimesOutOnlyWhenAdvancedPastDeadline) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  auto deadline = clock.now() + 10s;
  auto fut = std::async(std::launch::async, [&] {
    std::unique_lock<std::mutex> lk(mu);
    return clock.wait_until(lk, cv, deadline, [] { return false; });
  });
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  clock.advance(9s);
  // Still blocked: the deadline is not reached. (Bounded check, not sync.)
  EXPECT_EQ(fut.wait_for(20ms), std::future_status::timeout);
  clock.advance(1s);
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(fut.get());
  EXPECT_EQ(clock.num_waiters(), 0u);
}

TEST(FakeClockTest, WaitUntilReturnsWhenPredicateBecomesTrue) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  auto fut = std::async(std::launch::async, [&] {
    std::unique_lock<std::mutex> lk(mu);
    return clock.wait_until(lk, cv, Clock::time_point::max(), [&] { return flag; });
  });
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  {
    std::lock_guard<std::mutex> g(mu);
    flag = true;
  }
  cv.notify_all();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(fut.get());
}

TEST(FakeClockTest, ManyWaitersAndAdvancesDoNotLoseWakeups) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  constexpr int kThreads = 8;
  const auto base = clock.now();
  std::vector<std::future<bool>> futs;
  for (int i = 0; i < kThreads; ++i) {
    futs.push_back(std::async(std::launch::async, [&, i] {
      std::unique_lock<std::mutex> lk(mu);
      const auto deadline = base + std::chrono::milliseconds(10 * (i + 1));
      while (clock.now() < deadline) clock.wait_until(lk, cv, deadline, [] { return false; });
      return true;
    }));
  }
  // Advance in small steps while waiters come and go.
  for (int step = 0; step < 200; ++step) clock.advance(1ms);
  for (auto& f : futs) {
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(f.get());
  }
}

TEST(RealClockTest, WaitUntilHonoursShortDeadline) {
  RealClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lk(mu);
  const auto start = clock.now();
  EXPECT_FALSE(clock.wait_for(lk, cv, 20ms, [] { return false; }));
  EXPECT_GE(clock.now() - start, 20ms);
}

TEST(ClockTest, DeadlineAfterSaturates) {
  FakeClock clock;
  EXPECT_EQ(clock.DeadlineAfter(Clock::duration::max()), Clock::time_point::max());
  EXPECT_EQ(clock.DeadlineAfter(-1s), clock.now());
}

}  // namespace
}  // namespace shardcast::runtime

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

TEST(StopSignalTest, SleepReturnsFalseWhenTimePasses) {
  FakeClock clock;
  StopSignal stop;
  auto fut = std::async(std::launch::async, [&] { return stop.sleep_for(clock, 3s); });
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  clock.advance(3s);
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(fut.get());
}

TEST(StopSignalTest, RequestStopInterruptsSleep) {
  FakeClock clock;
  StopSignal stop;
  auto fut = std::async(std::launch::async, [&] { return stop.sleep_for(clock, 1h); });
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  stop.request_stop();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(fut.get());
  EXPECT_TRUE(stop.stop_requested());
  EXPECT_TRUE(stop.sleep_for(clock, 1h));  // already stopped: returns at once
}

}  // namespace
}  // namespace shardcast::runtime
