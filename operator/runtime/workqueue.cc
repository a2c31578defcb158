#include "operator/runtime/workqueue.h"

#include <algorithm>
#include <cmath>

#include "operator/runtime/metrics.h"

namespace shardcast::runtime {

using std::chrono::duration_cast;

// ---------------------------------------------------------------------------
// Rate limiters

ItemExponentialFailureRateLimiter::ItemExponentialFailureRateLimiter(Clock::duration base_delay,
                                                                     Clock::duration max_delay)
    : base_(std::max(base_delay, Clock::duration::zero())),
      max_(std::max(max_delay, Clock::duration::zero())) {}

Clock::duration ItemExponentialFailureRateLimiter::when(const std::string& item) {
  std::lock_guard<std::mutex> g(mu_);
  const int exp = failures_[item]++;
  // Compute in floating point so 2^exp cannot overflow the integer count.
  const double backoff = static_cast<double>(base_.count()) * std::pow(2.0, exp);
  if (!(backoff < static_cast<double>(max_.count()))) return max_;
  return Clock::duration(static_cast<Clock::duration::rep>(backoff));
}

void ItemExponentialFailureRateLimiter::forget(const std::string& item) {
  std::lock_guard<std::mutex> g(mu_);
  failures_.erase(item);
}

int ItemExponentialFailureRateLimiter::num_requeues(const std::string& item) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(Clock& clock, double qps, int burst)
    : clock_(clock),
      qps_(qps > 0 && std::isfinite(qps) ? qps : 1.0),
      burst_(static_cast<double>(std::max(burst, 1))),
      tokens_(burst_),
      last_(clock.now()) {}

Clock::duration BucketRateLimiter::when(const std::string&) {
  std::lock_guard<std::mutex> g(mu_);
  const Clock::time_point now = clock_.now();
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Clock::duration::zero();
  const std::chrono::duration<double> wait(-tokens_ / qps_);
  // Round up so that the token surely exists at the ready time.
  return std::chrono::ceil<Clock::duration>(wait);
}

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
    : limiters_(std::move(limiters)) {
  limiters_.erase(std::remove(limiters_.begin(), limiters_.end(), nullptr), limiters_.end());
}

Clock::duration MaxOfRateLimiter::when(const std::string& item) {
  Clock::duration longest = Clock::duration::zero();
  for (auto& l : limiters_) longest = std::max(longest, l->when(item));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& item) {
  for (auto& l : limiters_) l->forget(item);
}

int MaxOfRateLimiter::num_requeues(const std::string& item) {
  int most = 0;
  for (auto& l : limiters_) most = std::max(most, l->num_requeues(item));
  return most;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> ls;
  ls.push_back(std::make_unique<ItemExponentialFailureRateLimiter>(std::chrono::milliseconds(5),
                                                                   std::chrono::seconds(1000)));
  ls.push_back(std::make_unique<BucketRateLimiter>(clock, 10.0, 100));
  return std::make_unique<MaxOfRateLimiter>(std::move(ls));
}

Result<WorkQueueMetrics> RegisterWorkqueueMetrics(Registry& registry,
                                                  const std::string& queue_name) {
  auto depth =
      registry.gauge("shardcast_workqueue_depth", "Keys ready in the work queue.", {"name"});
  if (!depth) return unexpected(depth.error());
  auto adds =
      registry.counter("shardcast_workqueue_adds_total", "Keys added to the work queue.", {"name"});
  if (!adds) return unexpected(adds.error());
  auto retries = registry.counter("shardcast_workqueue_retries_total",
                                  "Rate-limited re-adds to the work queue.", {"name"});
  if (!retries) return unexpected(retries.error());
  const Labels l{{"name", queue_name}};
  return WorkQueueMetrics{(*depth)->with(l), (*adds)->with(l), (*retries)->with(l)};
}

// ---------------------------------------------------------------------------
// WorkQueue

WorkQueue::WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> limiter)
    : clock_(clock), limiter_(limiter ? std::move(limiter) : DefaultControllerRateLimiter(clock)) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::add(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  AddLocked(key);
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (dirty_.count(key) != 0) return;
  if (metrics_.adds) metrics_.adds->inc();
  dirty_.insert(key);
  if (processing_.count(key) != 0) return;  // re-queued by done()
  queue_.push_back(key);
  ++generation_;
  UpdateDepthLocked();
  cv_.notify_all();
}

void WorkQueue::AddAfter(const std::string& key, Clock::duration delay) {
  std::lock_guard<std::mutex> g(mu_);
  if (shutting_down_) return;
  if (delay <= Clock::duration::zero()) {
    AddLocked(key);
    return;
  }
  const Clock::time_point ready = clock_.DeadlineAfter(delay);
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (ready >= it->second) return;  // keep the earlier ready time
    waiting_by_time_.erase({it->second, key});
    it->second = ready;
  } else {
    waiting_.emplace(key, ready);
  }
  waiting_by_time_.emplace(ready, key);
  ++generation_;
  // Every getter recomputes its deadline.
  cv_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (shutting_down_) return;
    if (metrics_.retries) metrics_.retries->inc();
  }
  AddAfter(key, limiter_->when(key));
}

void WorkQueue::forget(const std::string& key) { limiter_->forget(key); }

int WorkQueue::num_requeues(const std::string& key) { return limiter_->num_requeues(key); }

void WorkQueue::PromoteDueLocked() {
  if (shutting_down_ || waiting_by_time_.empty()) return;
  const Clock::time_point now = clock_.now();
  while (!waiting_by_time_.empty() && waiting_by_time_.begin()->first <= now) {
    std::string key = waiting_by_time_.begin()->second;
    waiting_by_time_.erase(waiting_by_time_.begin());
    waiting_.erase(key);
    AddLocked(key);
  }
}

std::optional<std::string> WorkQueue::PopLocked() {
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  UpdateDepthLocked();
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    PromoteDueLocked();
    if (auto key = PopLocked()) return key;
    if (shutting_down_) return std::nullopt;
    const Clock::time_point deadline =
        waiting_by_time_.empty() ? Clock::time_point::max() : waiting_by_time_.begin()->first;
    const std::uint64_t gen = generation_;
    clock_.wait_until(lk, cv_, deadline,
                      [&] { return shutting_down_ || !queue_.empty() || generation_ != gen; });
  }
}

std::optional<std::string> WorkQueue::TryGet() {
  std::lock_guard<std::mutex> g(mu_);
  PromoteDueLocked();
  return PopLocked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  if (processing_.erase(key) == 0) return;
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    ++generation_;
    UpdateDepthLocked();
    cv_.notify_all();
  }
  if (processing_.empty()) drained_.notify_all();
}

std::size_t WorkQueue::len() {
  std::lock_guard<std::mutex> g(mu_);
  PromoteDueLocked();
  return queue_.size();
}

std::size_t WorkQueue::num_waiting() {
  std::lock_guard<std::mutex> g(mu_);
  PromoteDueLocked();
  return waiting_.size();
}

std::size_t WorkQueue::num_processing() {
  std::lock_guard<std::mutex> g(mu_);
  return processing_.size();
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> g(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_by_time_.clear();
  ++generation_;
  cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  std::unique_lock<std::mutex> lk(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_by_time_.clear();
  ++generation_;
  cv_.notify_all();
  drained_.wait(lk, [&] { return processing_.empty(); });
}

bool WorkQueue::shutting_down() {
  std::lock_guard<std::mutex> g(mu_);
  return shutting_down_;
}

void WorkQueue::set_metrics(WorkQueueMetrics m) {
  std::lock_guard<std::mutex> g(mu_);
  metrics_ = std::move(m);
  UpdateDepthLocked();
}

void WorkQueue::UpdateDepthLocked() {
  if (metrics_.depth) metrics_.depth->set(static_cast<double>(queue_.size()));
}

}  // namespace shardcast::runtime
