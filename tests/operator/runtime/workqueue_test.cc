#include "operator/runtime/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "operator/runtime/metrics.h"

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

TEST(WorkQueueTest, AddDeduplicates) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.add("a");
  q.add("b");
  q.add("a");
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.TryGet(), "a");
  EXPECT_EQ(q.TryGet(), "b");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, KeyAddedWhileProcessingIsRequeuedAfterDone) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  ASSERT_EQ(q.TryGet(), "a");
  EXPECT_EQ(q.num_processing(), 1u);
  q.add("a");
  q.add("a");
  // Not handed out again while it is being processed.
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.TryGet(), std::nullopt);
  q.done("a");
  EXPECT_EQ(q.len(), 1u);  // exactly one re-queue
  ASSERT_EQ(q.TryGet(), "a");
  q.done("a");
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.num_processing(), 0u);
}

TEST(WorkQueueTest, DoneWithoutDirtyDoesNotRequeue) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  ASSERT_EQ(q.TryGet(), "a");
  q.done("a");
  q.done("never-got");  // harmless
  EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueueTest, AddAfterWaitsForTheFakeClock) {
  FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("a", 1s);
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.num_waiting(), 1u);
  clock.advance(999ms);
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.advance(1ms);
  EXPECT_EQ(q.num_waiting(), 0u);
  EXPECT_EQ(q.TryGet(), "a");
}

TEST(WorkQueueTest, AddAfterKeepsEarliestReadyTime) {
  FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("a", 5s);
  q.AddAfter("a", 1s);
  q.AddAfter("a", 3s);
  EXPECT_EQ(q.num_waiting(), 1u);
  clock.advance(1s);
  EXPECT_EQ(q.TryGet(), "a");
  q.done("a");
  clock.advance(10s);
  EXPECT_EQ(q.TryGet(), std::nullopt);  // the later entries were merged away
}

TEST(WorkQueueTest, AddAfterZeroAddsNow) {
  FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("a", 0s);
  EXPECT_EQ(q.len(), 1u);
}

TEST(WorkQueueTest, BlockedGetWakesWhenDelayElapses) {
  FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("a", 2s);
  auto fut = std::async(std::launch::async, [&] { return q.get(); });
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  clock.advance(1s);
  EXPECT_EQ(fut.wait_for(20ms), std::future_status::timeout);  // bounded check
  clock.advance(1s);
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get(), "a");
}

TEST(WorkQueueTest, BlockedGetPicksUpEarlierDelayAddedWhileWaiting) {
  FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("late", 10s);
  auto fut = std::async(std::launch::async, [&] { return q.get(); });
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  q.AddAfter("early", 1s);
  // The getter re-waits with the new, earlier deadline.
  ASSERT_TRUE(clock.WaitForWaiters(1, 5s));
  clock.advance(1s);
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get(), "early");
}

TEST(RateLimiterTest, ItemExponentialSequenceCapsAt1000s) {
  ItemExponentialFailureRateLimiter rl(5ms, 1000s);
  Clock::duration expected = 5ms;
  for (int i = 0; i < 18; ++i) {
    EXPECT_EQ(rl.when("x"), expected) << "failure " << i;
    expected *= 2;
  }
  // 5ms * 2^17 = 655.36 s; 5ms * 2^18 = 1310.72 s is capped.
  EXPECT_EQ(rl.when("x"), 1000s);
  EXPECT_EQ(rl.when("x"), 1000s);
  for (int i = 0; i < 100; ++i) (void)rl.when("x");  // no overflow past the cap
  EXPECT_EQ(rl.when("x"), 1000s);
  EXPECT_EQ(rl.when("y"), 5ms);  // per item
  EXPECT_EQ(rl.num_requeues("x"), 121);
  rl.forget("x");
  EXPECT_EQ(rl.num_requeues("x"), 0);
  EXPECT_EQ(rl.when("x"), 5ms);
}

TEST(RateLimiterTest, BucketTenQpsBurstHundred) {
  FakeClock clock;
  BucketRateLimiter rl(clock, 10, 100);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rl.when("k" + std::to_string(i)), 0ms) << i;
  EXPECT_EQ(rl.when("k100"), 100ms);
  EXPECT_EQ(rl.when("k101"), 200ms);
  // After a second ten tokens have refilled; we were two in debt.
  clock.advance(1s);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(rl.when("r"), 0ms) << i;
  EXPECT_EQ(rl.when("r"), 100ms);
}

TEST(RateLimiterTest, MaxOfTakesLongestAndForgetsAll) {
  FakeClock clock;
  auto rl = DefaultControllerRateLimiter(clock);
  EXPECT_EQ(rl->when("a"), 5ms);  // per-item dominates while the bucket is full
  EXPECT_EQ(rl->when("a"), 10ms);
  EXPECT_EQ(rl->num_requeues("a"), 2);
  rl->forget("a");
  EXPECT_EQ(rl->num_requeues("a"), 0);
  EXPECT_EQ(rl->when("a"), 5ms);
}

TEST(WorkQueueTest, RateLimitedTokenBucketDelaysThe101stItemBy100ms) {
  FakeClock clock;
  WorkQueue q(clock);
  for (int i = 0; i < 101; ++i) q.AddRateLimited("k" + std::to_string(i));
  // Every first failure waits 5 ms (per-item backoff); the bucket only
  // delays the 101st further, to 100 ms.
  clock.advance(5ms);
  EXPECT_EQ(q.len(), 100u);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(q.TryGet().has_value());
  clock.advance(94ms);  // t = 99 ms
  EXPECT_EQ(q.TryGet(), std::nullopt);
  EXPECT_EQ(q.num_waiting(), 1u);
  clock.advance(1ms);  // t = 100 ms
  EXPECT_EQ(q.TryGet(), "k100");
}

TEST(WorkQueueTest, RateLimitedBackoffGrowsAndForgetResets) {
  FakeClock clock;
  WorkQueue q(clock);
  q.AddRateLimited("a");
  q.AddRateLimited("a");
  q.AddRateLimited("a");
  EXPECT_EQ(q.num_requeues("a"), 3);
  q.forget("a");
  EXPECT_EQ(q.num_requeues("a"), 0);
  // Earliest pending ready time is still the first (5 ms).
  clock.advance(5ms);
  ASSERT_EQ(q.TryGet(), "a");
  q.done("a");
  // After forget, the next failure waits 5 ms again, not 40 ms.
  q.AddRateLimited("a");
  clock.advance(4ms);
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.advance(1ms);
  EXPECT_EQ(q.TryGet(), "a");
}

TEST(WorkQueueTest, ShutDownWakesBlockedGetters) {
  FakeClock clock;
  WorkQueue q(clock);
  std::vector<std::future<std::optional<std::string>>> futs;
  for (int i = 0; i < 3; ++i)
    futs.push_back(std::async(std::launch::async, [&] { return q.get(); }));
  ASSERT_TRUE(clock.WaitForWaiters(3, 5s));
  q.ShutDown();
  for (auto& f : futs) {
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), std::nullopt);
  }
  EXPECT_TRUE(q.shutting_down());
}

TEST(WorkQueueTest, ShutDownHandsOutQueuedKeysThenStops) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.AddAfter("later", 1s);
  q.ShutDown();
  q.add("b");             // ignored
  q.AddRateLimited("c");  // ignored
  EXPECT_EQ(q.get(), "a");
  clock.advance(2s);
  EXPECT_EQ(q.get(), std::nullopt);  // delayed keys are dropped
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForProcessingKeys) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  ASSERT_EQ(q.get(), "a");
  auto drain = std::async(std::launch::async, [&] { q.ShutDownWithDrain(); });
  EXPECT_EQ(drain.wait_for(20ms), std::future_status::timeout);  // bounded check
  q.done("a");
  ASSERT_EQ(drain.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(q.get(), std::nullopt);
}

TEST(WorkQueueTest, ConcurrentProducersAndConsumers) {
  RealClock clock;
  WorkQueue q(clock);
  constexpr int kKeys = 500;
  constexpr int kProducers = 4;
  constexpr int kConsumers = 3;

  std::mutex mu;
  std::set<std::string> in_flight;
  std::set<std::string> seen;
  std::atomic<int> overlaps{0};

  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      while (auto key = q.get()) {
        {
          std::lock_guard<std::mutex> g(mu);
          if (!in_flight.insert(*key).second) ++overlaps;  // two workers on one key
          seen.insert(*key);
        }
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> g(mu);
          in_flight.erase(*key);
        }
        q.done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kKeys; ++i) q.add("k" + std::to_string((i * (p + 1)) % kKeys));
    });
  }
  for (auto& t : producers) t.join();
  q.ShutDownWithDrain();
  for (auto& t : consumers) t.join();

  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.num_processing(), 0u);
}

TEST(WorkQueueTest, MetricsTrackDepthAddsAndRetries) {
  FakeClock clock;
  Registry reg;
  auto depth = reg.gauge("q_depth", "depth", {"name"}).value()->with({{"name", "shardset"}});
  auto adds = reg.counter("q_adds_total", "adds", {"name"}).value()->with({{"name", "shardset"}});
  auto retries =
      reg.counter("q_retries_total", "retries", {"name"}).value()->with({{"name", "shardset"}});
  WorkQueue q(clock);
  q.set_metrics({depth, adds, retries});
  q.add("a");
  q.add("a");
  q.add("b");
  EXPECT_EQ(depth->value(), 2);
  EXPECT_EQ(adds->value(), 2);
  ASSERT_TRUE(q.TryGet().has_value());
  EXPECT_EQ(depth->value(), 1);
  q.AddRateLimited("c");
  EXPECT_EQ(retries->value(), 1);
}

TEST(WorkQueueTest, RegisteredMetricsAreExported) {
  FakeClock clock;
  Registry reg;
  auto m = RegisterWorkqueueMetrics(reg, "shardset");
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto again = RegisterWorkqueueMetrics(reg, "migration");  // idempotent families
  ASSERT_TRUE(again.ok()) << again.error().message;
  WorkQueue q(clock);
  q.set_metrics(*m);
  q.add("ns/a");
  q.AddRateLimited("ns/b");
  EXPECT_EQ(reg.render(),
            "# HELP shardcast_workqueue_adds_total Keys added to the work queue.\n"
            "# TYPE shardcast_workqueue_adds_total counter\n"
            "shardcast_workqueue_adds_total{name=\"migration\"} 0\n"
            "shardcast_workqueue_adds_total{name=\"shardset\"} 1\n"
            "# HELP shardcast_workqueue_depth Keys ready in the work queue.\n"
            "# TYPE shardcast_workqueue_depth gauge\n"
            "shardcast_workqueue_depth{name=\"migration\"} 0\n"
            "shardcast_workqueue_depth{name=\"shardset\"} 1\n"
            "# HELP shardcast_workqueue_retries_total Rate-limited re-adds to the work queue.\n"
            "# TYPE shardcast_workqueue_retries_total counter\n"
            "shardcast_workqueue_retries_total{name=\"migration\"} 0\n"
            "shardcast_workqueue_retries_total{name=\"shardset\"} 1\n");
}

}  // namespace
}  // namespace shardcast::runtime
