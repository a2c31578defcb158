#include "operator/runtime/liveness.h"

#include <gtest/gtest.h>

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

TEST(WorkerHeartbeatsTest, OnlyBusyWorkersPastTheLimitAreStuck) {
  FakeClock clock;
  WorkerHeartbeats beats(clock);
  const int a = beats.AddWorker("shardset/0");
  const int b = beats.AddWorker("shardset/1");
  const int c = beats.AddWorker("forecast/0");
  clock.advance(1h);
  EXPECT_TRUE(beats.stuck(5min).empty()) << "idle workers are never stuck";
  beats.begin(a, "ns/a");
  clock.advance(2min);
  beats.begin(b, "ns/b");
  beats.begin(c, "ns/c");
  clock.advance(3min);
  EXPECT_TRUE(beats.stuck(5min).empty()) << "a is at the limit, not past it";
  clock.advance(1s);
  auto s = beats.stuck(5min);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].worker, "shardset/0");
  EXPECT_EQ(s[0].key, "ns/a");
  EXPECT_EQ(s[0].busy_for, 301s);
  beats.end(c);
  clock.advance(4min);
  s = beats.stuck(5min);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].worker, "shardset/0") << "longest first";
  EXPECT_EQ(s[1].worker, "shardset/1");
  EXPECT_EQ(DescribeStuck(s),
            "worker shardset/0 stuck 541s on key ns/a; worker shardset/1 stuck 421s on key ns/b");
  beats.end(a);
  beats.begin(a, "ns/next");  // a fresh unit of work restarts the count
  s = beats.stuck(5min);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].worker, "shardset/1");
  EXPECT_TRUE(beats.stuck(0s).empty()) << "a zero limit disables the check";
}

TEST(WorkerHeartbeatsTest, UnknownWorkerIdsAreIgnored) {
  FakeClock clock;
  WorkerHeartbeats beats(clock);
  beats.begin(3, "x");
  beats.end(-1);
  clock.advance(1h);
  EXPECT_TRUE(beats.stuck(1s).empty());
}

}  // namespace
}  // namespace shardcast::runtime
