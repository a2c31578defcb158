#include "operator/manager/manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace shardcast::manager {

Manager::Manager(std::shared_ptr<kube::Client> client, ManagerOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  if (options_.domain_time)
    domain_clock_ = std::make_unique<DomainClock>(clock_, *options_.domain_time);
  std::string instance = options_.leader_election.identity;
  events_ = std::make_unique<kube::EventRecorder>(client_, options_.component, instance);
  auto m = ctrl::RegisterControllerMetrics(registry_);
  if (m) controller_metrics_ = *m;
  if (auto req = registry_.counter("shardcast_api_requests_total",
                                   "Requests to the Kubernetes API by method and HTTP code.",
                                   {"method", "code"})) {
    runtime::CounterFamily* family = *req;
    client_->set_request_observer([family](const std::string& method, int status) {
      family->with({{"method", method}, {"code", std::to_string(status)}})->inc();
    });
  }
}

Manager::~Manager() {
  for (auto& c : controllers_) c->stop();
  for (auto& [k, inf] : informers_) inf->stop();
  if (elector_) elector_->stop();
  if (metrics_server_) metrics_server_->stop();
  if (health_server_) health_server_->stop();
  // The observer points into this manager's registry; a client that
  // outlives the manager must not call it.
  client_->set_request_observer(nullptr);
}

namespace {

// Whether two registrations ask for the same informer. Transforms compare
// equal when both are absent or both are the same plain function.
bool SameOptions(const kube::InformerOptions& a, const kube::InformerOptions& b) {
  using Fn = void (*)(kube::Json&);
  bool same_transform = static_cast<bool>(a.transform) == static_cast<bool>(b.transform);
  if (a.transform && b.transform) {
    const Fn* fa = a.transform.target<Fn>();
    const Fn* fb = b.transform.target<Fn>();
    same_transform = fa != nullptr && fb != nullptr && *fa == *fb;
  }
  return same_transform && a.label_selector == b.label_selector && a.page_size == b.page_size &&
         a.strip_managed_fields == b.strip_managed_fields &&
         a.list_prune.drop_managed_fields == b.list_prune.drop_managed_fields &&
         a.list_prune.keep_spec == b.list_prune.keep_spec &&
         a.list_prune.keep_status == b.list_prune.keep_status &&
         a.initial_list_from_cache == b.initial_list_from_cache &&
         a.watch_timeout_seconds == b.watch_timeout_seconds &&
         a.backoff_initial == b.backoff_initial && a.backoff_max == b.backoff_max;
}

}  // namespace

kube::Informer& Manager::informer(const kube::Resource& resource, kube::InformerOptions extra) {
  std::string key = resource.ApiVersion() + "/" + resource.plural;
  extra.namespace_ = resource.namespaced ? options_.namespace_ : "";
  auto it = informers_.find(key);
  if (it != informers_.end()) {
    if (!SameOptions(informer_options_[key], extra)) {
      informer_errors_.push_back(
          "informer " + key + ": registered again with different options (label selector \"" +
          extra.label_selector + "\" vs \"" + informer_options_[key].label_selector +
          "\", or a different transform/pruning); every controller must ask for the same");
      spdlog::error("{}", informer_errors_.back());
    }
    return *it->second;
  }
  informer_options_[key] = extra;
  auto inf = std::make_unique<kube::Informer>(client_, resource, extra);
  auto& ref = *inf;
  informers_.emplace(key, std::move(inf));
  return ref;
}

ctrl::Controller& Manager::AddController(const std::string& name,
                                         std::unique_ptr<ctrl::Reconciler> reconciler,
                                         int workers) {
  auto c = std::make_unique<ctrl::Controller>(name, *reconciler, clock_, controller_metrics_);
  workers_.push_back(std::max(1, workers));
  reconcilers_.push_back(std::move(reconciler));
  controllers_.push_back(std::move(c));
  return *controllers_.back();
}

uint64_t Manager::fencing_token() const {
  if (!options_.leader_elect) return 1;
  return elector_ ? elector_->fencing_token() : 0;
}

bool Manager::may_write(uint64_t token) const {
  if (!options_.leader_elect) return token == 1;
  return elector_ && elector_->StillLeading(token);
}

bool Manager::is_leader() const {
  return !options_.leader_elect || (elector_ && elector_->is_leader());
}

void Manager::request_stop() {
  stop_requested_ = true;
  cv_.notify_all();
}

Result<void> Manager::run(const std::atomic<bool>& stop) {
  if (!informer_errors_.empty()) return unexpected(Error{informer_errors_.front()});
  // Endpoints first, so that probes answer while informers sync.
  auto readiness = [this]() -> runtime::ReadyStatus {
    if (!synced_.load()) return {false, "informers not synced"};
    return {true, ""};
  };
  auto liveness = [this]() -> runtime::ReadyStatus {
    std::vector<runtime::StuckWorker> stuck;
    for (const auto& c : controllers_) {
      auto s = c->StuckWorkers(options_.stuck_worker_timeout);
      stuck.insert(stuck.end(), s.begin(), s.end());
    }
    if (stuck.empty()) return {true, ""};
    return {false, runtime::DescribeStuck(stuck)};
  };
  if (!options_.metrics_address.empty()) {
    runtime::HttpServerOptions o;
    o.address = options_.metrics_address;
    metrics_server_ = std::make_unique<runtime::HttpServer>(o, &registry_, readiness);
    metrics_server_->set_liveness(liveness);
    if (auto r = metrics_server_->start(); !r) {
      return unexpected(Error{"--metrics-bind-address: " + r.error().message});
    }
    spdlog::info("metrics listening on {} (port {})", options_.metrics_address,
                 metrics_server_->port());
  }
  if (!options_.health_address.empty() && options_.health_address != options_.metrics_address) {
    runtime::HttpServerOptions o;
    o.address = options_.health_address;
    health_server_ = std::make_unique<runtime::HttpServer>(o, &registry_, readiness);
    health_server_->set_liveness(liveness);
    if (auto r = health_server_->start(); !r) {
      return unexpected(Error{"--health-probe-bind-address: " + r.error().message});
    }
  }

  for (auto& [k, inf] : informers_) inf->start();
  auto deadline = std::chrono::steady_clock::now() + options_.sync_timeout;
  for (auto& [k, inf] : informers_) {
    // Wait in short slices so that SIGTERM during start-up is honoured.
    while (!inf->WaitForSync(std::chrono::milliseconds(200))) {
      if (stop.load() || stop_requested_.load()) {
        for (auto& [k2, i2] : informers_) i2->stop();
        return {};
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return unexpected(Error{"informer for " + inf->resource().plural + " did not sync within " +
                                std::to_string(options_.sync_timeout.count()) +
                                "s; is the API server reachable and are the CRDs installed?"});
      }
    }
  }
  synced_ = true;
  spdlog::info("informers synced ({} resource types)", informers_.size());

  auto start_controllers = [this](uint64_t token) {
    spdlog::info("starting {} controllers (fencing token {})", controllers_.size(), token);
    for (std::size_t i = 0; i < controllers_.size(); ++i) controllers_[i]->start(workers_[i]);
    // Level-triggered start: every cached object of the primary kinds gets
    // one reconcile, even without a fresh event.
    cv_.notify_all();
  };

  if (options_.leader_elect) {
    elector_ = std::make_unique<kube::LeaderElector>(client_, options_.leader_election);
    elector_->start(start_controllers, [this] {
      lost_leadership_ = true;
      cv_.notify_all();
    });
  } else {
    start_controllers(1);
  }

  std::unique_lock<std::mutex> lock(mu_);
  while (!stop.load() && !stop_requested_.load() && !lost_leadership_.load()) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
  }
  lock.unlock();
  bool lost = lost_leadership_.load();
  spdlog::info("manager stopping{}", lost ? " (leadership lost)" : "");
  if (metrics_server_) metrics_server_->BeginShutdown();
  if (health_server_) health_server_->BeginShutdown();
  for (auto& c : controllers_) c->stop();
  if (elector_) elector_->stop();  // releases the Lease
  for (auto& [k, inf] : informers_) inf->stop();
  if (lost && !stop.load()) return unexpected(Error{"leader election lost"});
  return {};
}

}  // namespace shardcast::manager
