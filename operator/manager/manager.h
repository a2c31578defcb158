// Runs an operator's parts together: shared informers, controllers, leader
// election with a fencing token, the Event recorder, and the metrics/health
// HTTP endpoints. Controllers are added before run().
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "operator/controller/controller.h"
#include "operator/kube/client.h"
#include "operator/kube/events.h"
#include "operator/kube/informer.h"
#include "operator/kube/leader_election.h"
#include "operator/manager/domain_clock.h"
#include "operator/runtime/clock.h"
#include "operator/runtime/http_server.h"
#include "operator/runtime/metrics.h"

namespace shardcast::manager {

struct ManagerOptions {
  std::string namespace_;  // "" = all namespaces
  bool leader_elect = false;
  kube::LeaderElectionConfig leader_election;
  std::string metrics_address = ":8080";  // "" disables
  std::string health_address = ":8081";   // "" disables
  // /healthz fails while a controller worker has been inside one reconcile
  // longer than this; zero disables the check.
  std::chrono::seconds stuck_worker_timeout{300};
  std::string component = "shardcast-operator";
  std::chrono::seconds sync_timeout{60};
  // The domain clock every controller reads wall time from (`shardcast run
  // --time-scale`); nullopt: real time.
  std::optional<DomainTime> domain_time;
};

class Manager {
 public:
  Manager(std::shared_ptr<kube::Client> client, ManagerOptions options);
  ~Manager();

  kube::Client& client() { return *client_; }
  std::shared_ptr<kube::Client> client_ptr() { return client_; }
  // The shared informer for `resource` in the managed namespace; created on
  // first use. Call before run(). Every registration of one resource must ask
  // for the same options: a second one with different options is recorded
  // as an error (informer_errors()) and run() fails with it, instead of the
  // first registration silently winning.
  kube::Informer& informer(const kube::Resource& resource, kube::InformerOptions extra = {});
  const std::vector<std::string>& informer_errors() const { return informer_errors_; }
  runtime::Registry& metrics() { return registry_; }
  // The one clock of every controller: steady time and waits are real; wall
  // time (SystemNow) is domain time when options().domain_time is set.
  runtime::Clock& clock() {
    return domain_clock_ ? static_cast<runtime::Clock&>(*domain_clock_) : clock_;
  }
  // Domain seconds per real second (1 without a domain clock).
  double time_scale() const { return options_.domain_time ? options_.domain_time->scale : 1.0; }
  kube::EventSink& events() { return *events_; }
  const ManagerOptions& options() const { return options_; }

  // `workers` reconcile different keys in parallel (the work queue never
  // hands one key to two workers); the reconciler must then be thread-safe.
  ctrl::Controller& AddController(const std::string& name,
                                  std::unique_ptr<ctrl::Reconciler> reconciler, int workers = 1);

  // Fencing: 1 when not using leader election; the Lease's token otherwise.
  uint64_t fencing_token() const;
  // Whether writes stamped with `token` may still be made.
  bool may_write(uint64_t token) const;
  bool is_leader() const;

  // Blocks until `stop` becomes true (polled on a condition) or leadership
  // is lost. Returns an error when start-up fails (e.g. the API server is
  // down or informers never sync).
  [[nodiscard]] Result<void> run(const std::atomic<bool>& stop);
  // Wakes run() early.
  void request_stop();

 private:
  std::shared_ptr<kube::Client> client_;
  ManagerOptions options_;
  runtime::RealClock clock_;
  std::unique_ptr<DomainClock> domain_clock_;
  runtime::Registry registry_;
  std::unique_ptr<kube::EventRecorder> events_;
  std::map<std::string, std::unique_ptr<kube::Informer>> informers_;
  std::map<std::string, kube::InformerOptions> informer_options_;  // as first registered
  std::vector<std::string> informer_errors_;
  std::vector<std::unique_ptr<ctrl::Reconciler>> reconcilers_;
  std::vector<std::unique_ptr<ctrl::Controller>> controllers_;
  std::vector<int> workers_;  // per controller, same order
  ctrl::ControllerMetrics controller_metrics_;
  std::unique_ptr<kube::LeaderElector> elector_;
  std::unique_ptr<runtime::HttpServer> metrics_server_;
  std::unique_ptr<runtime::HttpServer> health_server_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> lost_leadership_{false};
  std::atomic<bool> stop_requested_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace shardcast::manager
