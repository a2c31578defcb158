#include "operator/runtime/backoff.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, WithoutJitterGrowsByFactorUpToMax) {
  auto b = Backoff::create({.initial = 100ms, .factor = 2.0, .max = 1s, .jitter = 0.0, .seed = 1});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->next(), 100ms);
  EXPECT_EQ(b->next(), 200ms);
  EXPECT_EQ(b->next(), 400ms);
  EXPECT_EQ(b->next(), 800ms);
  EXPECT_EQ(b->next(), 1s);
  for (int i = 0; i < 2000; ++i) (void)b->next();  // no overflow when capped
  EXPECT_EQ(b->next(), 1s);
  EXPECT_EQ(b->attempts(), 2006);
  b->reset();
  EXPECT_EQ(b->attempts(), 0);
  EXPECT_EQ(b->next(), 100ms);
}

TEST(BackoffTest, JitterStaysWithinBoundsAndSpreads) {
  auto b = Backoff::create({.initial = 1s, .factor = 1.0, .max = 1s, .jitter = 0.5, .seed = 7});
  ASSERT_TRUE(b.ok());
  std::chrono::nanoseconds lo = 1s, hi = 0s;
  for (int i = 0; i < 1000; ++i) {
    const auto d = b->next();
    ASSERT_GE(d, 500ms);
    ASSERT_LE(d, 1s);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, 550ms);
  EXPECT_GT(hi, 950ms);
}

TEST(BackoffTest, SameSeedSameSequence) {
  BackoffOptions o{.initial = 10ms, .factor = 3.0, .max = 10s, .jitter = 0.3, .seed = 99};
  auto a = Backoff::create(o);
  auto b = Backoff::create(o);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a->next(), b->next());
}

TEST(BackoffTest, InvalidOptionsNameTheField) {
  auto check = [](BackoffOptions o, const std::string& field) {
    auto b = Backoff::create(o);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().message.find(field), std::string::npos) << b.error().message;
  };
  check({.initial = 0ms}, "initial");
  check({.factor = 0.5}, "factor");
  check({.factor = std::numeric_limits<double>::quiet_NaN()}, "factor");
  check({.initial = 2s, .max = 1s}, "max");
  check({.jitter = 1.5}, "jitter");
  check({.jitter = -0.1}, "jitter");
}

}  // namespace
}  // namespace shardcast::runtime

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

TEST(RetryWithBackoffTest, RetriesOnTheClockUntilSuccess) {
  FakeClock clock;
  StopSignal stop;
  auto b = Backoff::create({.initial = 100ms, .factor = 2.0, .max = 1s, .jitter = 0.0}).value();
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  auto calls_now = [&] {
    std::lock_guard<std::mutex> g(mu);
    return calls;
  };
  auto wait_calls = [&](int n) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, std::chrono::seconds(5), [&] { return calls >= n; });
  };
  auto fut = std::async(std::launch::async, [&] {
    return retry_with_backoff(clock, b, stop, 0, [&]() -> Result<int> {
      int n;
      {
        std::lock_guard<std::mutex> g(mu);
        n = ++calls;
      }
      cv.notify_all();
      if (n < 3) return unexpected(Error{"hook: connection refused"});
      return 42;
    });
  });
  // The sleep after call n registers only after call n, and the previous
  // sleep unregistered before it, so "n calls and one waiter" means the
  // n-th sleep is in place.
  ASSERT_TRUE(wait_calls(1));
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  clock.advance(99ms);
  EXPECT_EQ(calls_now(), 1);  // still sleeping
  clock.advance(1ms);         // first delay 100 ms
  ASSERT_TRUE(wait_calls(2));
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  clock.advance(199ms);
  EXPECT_EQ(calls_now(), 2);
  clock.advance(1ms);  // second delay 200 ms
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  auto r = fut.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(calls_now(), 3);
  EXPECT_EQ(b.attempts(), 0);  // reset after success
}

TEST(RetryWithBackoffTest, GivesUpAfterMaxAttemptsAndOnStop) {
  FakeClock clock;
  StopSignal stop;
  auto b = Backoff::create({.initial = 1ms, .max = 1ms, .jitter = 0.0}).value();
  int calls = 0;
  auto once = retry_with_backoff(clock, b, stop, 1, [&]() -> Result<int> {
    ++calls;
    return unexpected(Error{"nope"});
  });
  ASSERT_FALSE(once.ok());
  EXPECT_EQ(once.error().message, "nope");
  EXPECT_EQ(calls, 1);

  stop.request_stop();
  calls = 0;
  auto stopped = retry_with_backoff(clock, b, stop, 0, [&]() -> Result<int> {
    ++calls;
    return unexpected(Error{"still failing"});
  });
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace shardcast::runtime
