// The reconcile loop shared by every controller: keys come from a work queue
// fed by informer handlers; Reconcile() says what happens next (wait for a
// change, or requeue after a delay), and a separate error policy decides
// retries. One Reconciler per resource kind.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "operator/kube/error.h"
#include "operator/runtime/clock.h"
#include "operator/runtime/liveness.h"
#include "operator/runtime/metrics.h"
#include "operator/runtime/workqueue.h"

namespace shardcast::ctrl {

struct Action {
  enum class Kind { kAwaitChange, kRequeueAfter };
  Kind kind = Kind::kAwaitChange;
  std::chrono::milliseconds after{0};

  static Action AwaitChange() { return {}; }
  static Action RequeueAfter(std::chrono::milliseconds d) { return {Kind::kRequeueAfter, d}; }
};

using ReconcileResult = Expected<Action, kube::ApiError>;

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Level-triggered: looks at the current state for `key` and moves it one
  // step toward the desired state. Must be idempotent.
  [[nodiscard]] virtual ReconcileResult Reconcile(const std::string& key) = 0;
};

// What to do after a failed reconcile. The default: Conflict re-queues at
// once (the cache is simply behind), TooManyRequests honours Retry-After,
// everything else backs off per item through the work queue's limiter.
class ErrorPolicy {
 public:
  virtual ~ErrorPolicy() = default;
  struct Decision {
    enum class Kind { kRateLimited, kAfter, kDrop } kind = Kind::kRateLimited;
    std::chrono::milliseconds after{0};
  };
  virtual Decision OnError(const std::string& key, const kube::ApiError& error,
                           int previous_failures) const;
};

struct ControllerMetrics {
  runtime::CounterFamily* reconciles = nullptr;  // labels: controller, result
  runtime::HistogramFamily* duration = nullptr;  // labels: controller
  runtime::GaugeFamily* depth = nullptr;         // labels: controller
};

// Registers the standard controller metrics once per registry.
Result<ControllerMetrics> RegisterControllerMetrics(runtime::Registry& registry);

class Controller {
 public:
  Controller(std::string name, Reconciler& reconciler, runtime::Clock& clock,
             ControllerMetrics metrics = {}, std::unique_ptr<ErrorPolicy> policy = nullptr);
  ~Controller();

  runtime::WorkQueue& queue() { return queue_; }
  void enqueue(const std::string& key) { queue_.add(key); }
  void start(int workers = 1);
  // Stops taking new keys and waits for in-flight reconciles to finish.
  void stop();
  uint64_t reconciles() const { return reconciles_.load(); }
  const std::string& name() const { return name_; }
  // Workers (named "<controller>/<n>") inside one reconcile for longer than
  // `limit`; the manager's /healthz fails while any is. Zero limit: none.
  std::vector<runtime::StuckWorker> StuckWorkers(runtime::Clock::duration limit) const {
    return heartbeats_.stuck(limit);
  }

 private:
  void worker(int id);
  void process(int id, const std::string& key);

  std::string name_;
  Reconciler& reconciler_;
  runtime::Clock& clock_;
  runtime::WorkQueue queue_;
  ControllerMetrics metrics_;
  std::unique_ptr<ErrorPolicy> policy_;
  runtime::WorkerHeartbeats heartbeats_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> reconciles_{0};
};

}  // namespace shardcast::ctrl
