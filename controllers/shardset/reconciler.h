// The ShardSet reconciler: reads the ShardSet, its pods and its routing
// ConfigMap from informer caches, asks ComputeDesired() for this round's
// step, executes it through the Client (with resourceVersion / uid
// preconditions), publishes the ownership requests (contract C1) and writes
// status only when it changed. It writes the routing ConfigMap only to
// create the first document; it keeps a copy of the last good document in
// `<configMapName>-last-good`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "controllers/shardset/last_good.h"
#include "controllers/shardset/shardset.h"
#include "operator/controller/controller.h"
#include "operator/kube/client.h"
#include "operator/kube/events.h"
#include "operator/kube/informer.h"
#include "operator/runtime/metrics.h"

namespace shardcast::shardset {

// What the reconciler needs from its surroundings (the Manager provides all
// of it; tests may wire informers by hand).
struct ReconcilerDeps {
  std::shared_ptr<kube::Client> client;
  const kube::Store* shardsets = nullptr;
  const kube::Store* pods = nullptr;             // pods labelled shardcast.dev/shardset
  const kube::Store* configmaps = nullptr;       // routing and last-good ConfigMaps (same label)
  const kube::Store* policies = nullptr;         // MigrationPolicies (replica requests); optional
  kube::EventSink* events = nullptr;             // optional
  runtime::Registry* metrics = nullptr;          // optional
  std::function<uint64_t()> fencing_token;       // default: 1
  std::function<bool(uint64_t)> may_write;       // default: always
  std::function<std::string()> now;              // RFC 3339; default: wall clock
  std::chrono::milliseconds wait_requeue{2000};  // while pods are not Ready
  std::chrono::milliseconds step_requeue{1000};  // after a step (safety net)
};

class ShardSetReconciler final : public ctrl::Reconciler {
 public:
  explicit ShardSetReconciler(ReconcilerDeps deps);
  [[nodiscard]] ctrl::ReconcileResult Reconcile(const std::string& key) override;

  // API writes made so far (creates, updates, patches, deletes): the
  // steady-state target is zero per minute.
  uint64_t writes() const { return writes_.load(); }

 private:
  struct Round;
  ctrl::ReconcileResult ReconcileInvalidSpec(Round& round, const std::string& error);
  ctrl::ReconcileResult execute(Round& round);
  kube::ApiStatus observe(Round& round);
  void ObserveRouting(Round& round);
  kube::ApiStatus ObserveClaims(Round& round);
  void SaveLastGood(Round& round);
  void ReportRequests(Round& round);
  kube::ApiStatus promote(Round& round);
  kube::ApiStatus CreateRouting(Round& round);
  kube::ApiStatus DeletePods(Round& round);
  kube::ApiResult<std::map<std::string, std::string>> LiveHeldPods(Round& round);
  kube::ApiStatus DeleteClaims(Round& round, const std::string& pod);
  kube::ApiStatus CreatePods(Round& round, bool& failed_step);
  kube::ApiStatus WriteStatus(Round& round);
  std::vector<Condition> conditions(const Round& round) const;
  void event(const Json& obj, kube::EventType type, const std::string& reason,
             const std::string& message);
  void set_metrics(const std::string& key, const Round& round);

  ReconcilerDeps deps_;
  std::atomic<uint64_t> writes_{0};
  LastGoodMemory last_good_;
  runtime::GaugeFamily* epoch_gauge_ = nullptr;
  runtime::CounterFamily* promotions_ = nullptr;
  runtime::GaugeFamily* pods_gauge_ = nullptr;
};

// The key of the ShardSet that `obj` (a Pod or routing ConfigMap) belongs
// to: "namespace/<label shardcast.dev/shardset>", else the controller owner
// reference of kind ShardSet; "" when none.
std::string OwningShardSetKey(const Json& obj);

// Enqueues into `c` the ShardSet key of every change seen by the
// informers (register before they start). With `policies`, a change of a
// MigrationPolicy's replica requests enqueues the ShardSets it names.
void WireHandlers(kube::Informer& sets, kube::Informer& pods, kube::Informer& cms,
                  ctrl::Controller& c, kube::Informer* policies = nullptr);

}  // namespace shardcast::shardset
