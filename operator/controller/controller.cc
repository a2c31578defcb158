#include "operator/controller/controller.h"

#include <spdlog/spdlog.h>

namespace shardcast::ctrl {

ErrorPolicy::Decision ErrorPolicy::OnError(const std::string&, const kube::ApiError& error,
                                           int) const {
  using K = kube::ErrorKind;
  switch (error.kind) {
    case K::kConflict:
    case K::kAlreadyExists:
      // Our cache was behind; the watch will catch up within moments.
      return {Decision::Kind::kAfter, std::chrono::milliseconds(50)};
    case K::kTooManyRequests:
      if (error.retry_after) {
        return {Decision::Kind::kAfter,
                std::chrono::duration_cast<std::chrono::milliseconds>(*error.retry_after)};
      }
      return {};
    case K::kNotFound:
      // The object went away under us; the next event re-queues if needed.
      return {Decision::Kind::kRateLimited, std::chrono::milliseconds(0)};
    default:
      return {};
  }
}

Result<ControllerMetrics> RegisterControllerMetrics(runtime::Registry& registry) {
  ControllerMetrics m;
  auto r = registry.counter("shardcast_reconcile_total", "Reconciles by controller and result.",
                            {"controller", "result"});
  if (!r) return unexpected(r.error());
  m.reconciles = *r;
  auto d = registry.histogram("shardcast_reconcile_duration_seconds",
                              "Time spent in one reconcile.", {"controller"});
  if (!d) return unexpected(d.error());
  m.duration = *d;
  auto q = registry.gauge("shardcast_workqueue_depth", "Keys waiting in a controller's queue.",
                          {"controller"});
  if (!q) return unexpected(q.error());
  m.depth = *q;
  return m;
}

Controller::Controller(std::string name, Reconciler& reconciler, runtime::Clock& clock,
                       ControllerMetrics metrics, std::unique_ptr<ErrorPolicy> policy)
    : name_(std::move(name)),
      reconciler_(reconciler),
      clock_(clock),
      queue_(clock),
      metrics_(metrics),
      policy_(policy ? std::move(policy) : std::make_unique<ErrorPolicy>()),
      heartbeats_(clock) {
  if (metrics_.depth != nullptr) {
    runtime::WorkQueueMetrics qm;
    qm.depth = metrics_.depth->with({{"controller", name_}});
    queue_.set_metrics(qm);
  }
}

Controller::~Controller() { stop(); }

void Controller::start(int workers) {
  for (int i = 0; i < workers; ++i) {
    const int id =
        heartbeats_.AddWorker(name_ + "/" + std::to_string(static_cast<int>(workers_.size())));
    workers_.emplace_back([this, id] { worker(id); });
  }
}

void Controller::stop() {
  queue_.ShutDownWithDrain();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void Controller::worker(int id) {
  while (auto key = queue_.get()) {
    process(id, *key);
    queue_.done(*key);
  }
}

void Controller::process(int id, const std::string& key) {
  auto start = clock_.now();
  heartbeats_.begin(id, key);
  ReconcileResult result = reconciler_.Reconcile(key);
  heartbeats_.end(id);
  ++reconciles_;
  double secs = std::chrono::duration<double>(clock_.now() - start).count();
  if (metrics_.duration != nullptr) metrics_.duration->with({{"controller", name_}})->observe(secs);
  auto count = [&](const char* outcome) {
    if (metrics_.reconciles != nullptr) {
      metrics_.reconciles->with({{"controller", name_}, {"result", outcome}})->inc();
    }
  };
  if (result) {
    count("success");
    queue_.forget(key);
    if (result->kind == Action::Kind::kRequeueAfter) queue_.AddAfter(key, result->after);
    return;
  }
  count("error");
  const kube::ApiError& err = result.error();
  int failures = queue_.num_requeues(key);
  auto decision = policy_->OnError(key, err, failures);
  auto level = failures < 3 ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(level, "controller={} key={} reconcile failed (attempt {}): {}", name_, key,
              failures + 1, err.to_string());
  switch (decision.kind) {
    case ErrorPolicy::Decision::Kind::kRateLimited:
      queue_.AddRateLimited(key);
      break;
    case ErrorPolicy::Decision::Kind::kAfter:
      queue_.AddAfter(key, decision.after);
      break;
    case ErrorPolicy::Decision::Kind::kDrop:
      queue_.forget(key);
      break;
  }
}

}  // namespace shardcast::ctrl
