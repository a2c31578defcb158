#include "operator/controller/controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace shardcast::ctrl {
namespace {

using namespace std::chrono_literals;

// Returns scripted results and records the keys it saw.
class ScriptedReconciler : public Reconciler {
 public:
  ReconcileResult Reconcile(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(key);
    cv_.notify_all();
    if (script_.empty()) return Action::AwaitChange();
    ReconcileResult r = script_.front();
    script_.pop_front();
    return r;
  }
  void push(ReconcileResult r) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(r));
  }
  bool wait_calls(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return seen_.size() >= n; });
  }
  size_t calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ReconcileResult> script_;
  std::vector<std::string> seen_;
};

// Polls a condition until it holds or the timeout passes.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::yield();
  }
  return pred();
}

kube::ApiError Err(kube::ErrorKind kind) {
  kube::ApiError e;
  e.kind = kind;
  e.message = "scripted";
  return e;
}

TEST(ControllerTest, RequeueAfterWaitsOnTheClock) {
  runtime::FakeClock clock;
  ScriptedReconciler rec;
  rec.push(Action::RequeueAfter(30s));
  Controller c("test", rec, clock);
  c.start();
  c.enqueue("ns/a");
  ASSERT_TRUE(rec.wait_calls(1));
  ASSERT_TRUE(Eventually([&] { return c.queue().num_waiting() == 1; }));
  clock.advance(29s);
  EXPECT_EQ(rec.calls(), 1u);
  clock.advance(1s);
  EXPECT_TRUE(rec.wait_calls(2));
  c.stop();
}

TEST(ControllerTest, ErrorsBackOffAndSuccessForgets) {
  runtime::FakeClock clock;
  ScriptedReconciler rec;
  rec.push(unexpected(Err(kube::ErrorKind::kUnavailable)));
  rec.push(unexpected(Err(kube::ErrorKind::kUnavailable)));
  Controller c("test", rec, clock);
  c.start();
  c.enqueue("k");
  ASSERT_TRUE(rec.wait_calls(1));
  // First retry after 5 ms, then 10 ms: client-go's per-item backoff.
  ASSERT_TRUE(Eventually([&] { return c.queue().num_waiting() == 1; }));
  clock.advance(5ms);
  ASSERT_TRUE(rec.wait_calls(2));
  ASSERT_TRUE(Eventually([&] { return c.queue().num_waiting() == 1; }));
  clock.advance(9ms);
  EXPECT_EQ(rec.calls(), 2u);
  clock.advance(1ms);
  ASSERT_TRUE(rec.wait_calls(3));
  // The third call succeeded: the key's failure count is reset.
  c.stop();
  EXPECT_EQ(c.queue().num_requeues("k"), 0);
}

TEST(ControllerTest, TooManyRequestsHonoursRetryAfter) {
  ErrorPolicy policy;
  auto e = Err(kube::ErrorKind::kTooManyRequests);
  e.retry_after = std::chrono::seconds(7);
  auto d = policy.OnError("k", e, 0);
  EXPECT_EQ(d.kind, ErrorPolicy::Decision::Kind::kAfter);
  EXPECT_EQ(d.after, 7000ms);
  auto c = policy.OnError("k", Err(kube::ErrorKind::kConflict), 0);
  EXPECT_EQ(c.kind, ErrorPolicy::Decision::Kind::kAfter);
  EXPECT_LT(c.after, 1000ms);
  auto other = policy.OnError("k", Err(kube::ErrorKind::kForbidden), 0);
  EXPECT_EQ(other.kind, ErrorPolicy::Decision::Kind::kRateLimited);
}

TEST(ControllerTest, DuplicateKeysReconcileOnce) {
  runtime::FakeClock clock;
  ScriptedReconciler rec;
  Controller c("test", rec, clock);
  for (int i = 0; i < 10; ++i) c.enqueue("same");
  c.start();
  ASSERT_TRUE(rec.wait_calls(1));
  c.stop();
  EXPECT_EQ(rec.calls(), 1u);
}

// Blocks inside reconcile until released; counts how many reconciles of
// each key run at the same time.
class GateReconciler : public Reconciler {
 public:
  ReconcileResult Reconcile(const std::string& key) override {
    std::unique_lock<std::mutex> lock(mu_);
    int now = ++running_[key];
    max_same_key_ = std::max(max_same_key_, now);
    ++inside_;
    max_inside_ = std::max(max_inside_, inside_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --inside_;
    --running_[key];
    ++done_;
    cv_.notify_all();
    return Action::AwaitChange();
  }
  bool WaitInside(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return inside_ >= n; });
  }
  bool WaitDone(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return done_ >= n; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int MaxSameKey() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_same_key_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> running_;
  int inside_ = 0, max_inside_ = 0, max_same_key_ = 0, done_ = 0;
  bool open_ = false;
};

TEST(ControllerTest, WorkersReconcileDifferentKeysInParallelButNeverOneKeyTwice) {
  runtime::FakeClock clock;
  GateReconciler rec;
  Controller c("test", rec, clock);
  c.enqueue("a");
  c.enqueue("b");
  c.start(2);
  ASSERT_TRUE(rec.WaitInside(2)) << "two keys at once with two workers";
  c.enqueue("a");  // while "a" is being reconciled: queued again, not run twice at once
  rec.open();
  ASSERT_TRUE(rec.WaitDone(3));
  c.stop();
  EXPECT_EQ(rec.MaxSameKey(), 1);
}

TEST(ControllerTest, AWorkerInsideOneReconcilePastTheLimitIsStuck) {
  runtime::FakeClock clock;
  GateReconciler rec;
  Controller c("shardset", rec, clock);
  c.start(2);
  // Idle workers are never stuck, however much time passes.
  clock.advance(std::chrono::hours(1));
  EXPECT_TRUE(c.StuckWorkers(std::chrono::minutes(5)).empty());
  c.enqueue("ns/slow");
  ASSERT_TRUE(rec.WaitInside(1));
  clock.advance(std::chrono::minutes(5));
  EXPECT_TRUE(c.StuckWorkers(std::chrono::minutes(5)).empty()) << "exactly at the limit";
  clock.advance(std::chrono::seconds(1));
  auto stuck = c.StuckWorkers(std::chrono::minutes(5));
  ASSERT_EQ(stuck.size(), 1u);
  EXPECT_EQ(stuck[0].key, "ns/slow");
  EXPECT_TRUE(stuck[0].worker == "shardset/0" || stuck[0].worker == "shardset/1")
      << stuck[0].worker;
  EXPECT_EQ(stuck[0].busy_for, std::chrono::seconds(301));
  EXPECT_TRUE(c.StuckWorkers(std::chrono::seconds(0)).empty()) << "0 disables the check";
  rec.open();
  ASSERT_TRUE(rec.WaitDone(1));
  // The worker marks itself idle right after the reconcile returns.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!c.StuckWorkers(std::chrono::minutes(5)).empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(c.StuckWorkers(std::chrono::minutes(5)).empty());
  c.stop();
}

}  // namespace
}  // namespace shardcast::ctrl
