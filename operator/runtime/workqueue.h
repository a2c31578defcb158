// A rate-limited work queue of string keys with client-go semantics
// (k8s.io/client-go/util/workqueue): deduplicating "dirty" set, "processing"
// set so one key is never handled by two workers at once, a delaying queue
// on the injected clock, and pluggable rate limiters.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "operator/runtime/clock.h"
#include "util/expected.h"

namespace shardcast::runtime {

class Gauge;
class Counter;
class Registry;

// Decides how long an item waits before it is (re)queued.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Delay for this attempt of `item`; records the attempt.
  virtual Clock::duration when(const std::string& item) = 0;
  // Clears the item's failure history (call after a successful reconcile).
  virtual void forget(const std::string& item) = 0;
  // Failures recorded for the item since the last forget().
  virtual int num_requeues(const std::string& item) = 0;
};

// base * 2^failures, capped at max_delay; per item.
class ItemExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ItemExponentialFailureRateLimiter(Clock::duration base_delay, Clock::duration max_delay);
  Clock::duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) override;

 private:
  std::mutex mu_;
  Clock::duration base_;
  Clock::duration max_;
  std::unordered_map<std::string, int> failures_;
};

// Overall token bucket (golang.org/x/time/rate reservation semantics): the
// bucket starts full with `burst` tokens and refills at `qps`; each when()
// takes one token, possibly going into debt, and returns the wait until that
// token exists. Not per item: forget() and num_requeues() do nothing.
class BucketRateLimiter final : public RateLimiter {
 public:
  // qps must be > 0 and burst >= 1; other values are clamped to those.
  BucketRateLimiter(Clock& clock, double qps, int burst);
  Clock::duration when(const std::string& item) override;
  void forget(const std::string&) override {}
  int num_requeues(const std::string&) override { return 0; }

 private:
  std::mutex mu_;
  Clock& clock_;
  double qps_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// The longest delay of all limiters; every limiter records each attempt.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);
  Clock::duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// client-go's DefaultControllerRateLimiter: max of per-item exponential
// 5 ms * 2^n capped at 1000 s, and an overall bucket of 10 qps, burst 100.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock);

// Optional metrics a queue keeps up to date (all may be null).
struct WorkQueueMetrics {
  std::shared_ptr<Gauge> depth;      // items ready to be handed out
  std::shared_ptr<Counter> adds;     // add() calls that queued or marked dirty
  std::shared_ptr<Counter> retries;  // AddRateLimited() calls
};

// Registers (idempotently) shardcast_workqueue_depth (gauge),
// shardcast_workqueue_adds_total and shardcast_workqueue_retries_total
// (counters), all labelled name=<queue_name>, and returns the queue's children.
[[nodiscard]] Result<WorkQueueMetrics> RegisterWorkqueueMetrics(Registry& registry,
                                                                const std::string& queue_name);

// Destroy a queue only after its worker threads have returned from get().
class WorkQueue {
 public:
  // `limiter` defaults to DefaultControllerRateLimiter(clock).
  explicit WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> limiter = nullptr);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already queued. A key being processed is
  // marked dirty and queued again when done(key) is called. Ignored after
  // shutdown.
  void add(const std::string& key);
  // add(key) once `delay` has passed on the clock; a key already waiting
  // keeps the earlier of its two ready times. delay <= 0 adds now.
  void AddAfter(const std::string& key, Clock::duration delay);
  // AddAfter(key, limiter.when(key)).
  void AddRateLimited(const std::string& key);
  // Resets the key's failure history in the rate limiter.
  void forget(const std::string& key);
  int num_requeues(const std::string& key);

  // Blocks until a key is ready (and marks it processing) or the queue is
  // shut down and empty (returns nullopt). Keys still queued at shutdown are
  // handed out first, as in client-go; keys still waiting in AddAfter are
  // dropped.
  std::optional<std::string> get();
  // Non-blocking get(): nullopt when nothing is ready right now.
  std::optional<std::string> TryGet();
  // Marks the key finished; re-queues it if it was added while processing.
  void done(const std::string& key);

  // Keys ready to be handed out (queue depth).
  std::size_t len();
  // Keys waiting for their AddAfter delay.
  std::size_t num_waiting();
  // Keys handed out by get() and not yet done().
  std::size_t num_processing();

  // Stops accepting adds and wakes every blocked get().
  void ShutDown();
  // ShutDown() and then blocks until every key handed out is done().
  void ShutDownWithDrain();
  bool shutting_down();

  void set_metrics(WorkQueueMetrics m);

 private:
  void AddLocked(const std::string& key);
  void PromoteDueLocked();
  std::optional<std::string> PopLocked();
  void UpdateDepthLocked();

  Clock& clock_;
  std::unique_ptr<RateLimiter> limiter_;

  std::mutex mu_;
  std::condition_variable cv_;       // getters
  std::condition_variable drained_;  // ShutDownWithDrain()
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  // Delaying queue: key -> ready time, and (ready time, key) ordered.
  std::unordered_map<std::string, Clock::time_point> waiting_;
  std::set<std::pair<Clock::time_point, std::string>> waiting_by_time_;
  std::uint64_t generation_ = 0;  // bumped on every change a getter may care about
  bool shutting_down_ = false;
  WorkQueueMetrics metrics_;
};

}  // namespace shardcast::runtime
