// List+watch cache of one resource type, indexed by namespace, labels and
// owner. Handlers run on the informer's thread and should only enqueue keys.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "operator/kube/client.h"

namespace shardcast::kube {

using ObjectPtr = std::shared_ptr<const Json>;

// "namespace/name", or "name" for cluster-scoped objects.
std::string ObjectKey(const Json& obj);
std::string ObjectNamespace(const Json& obj);
std::string ObjectName(const Json& obj);
std::string ObjectResourceVersion(const Json& obj);

// Thread-safe indexed object cache.
class Store {
 public:
  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> ListNamespace(const std::string& ns) const;
  // Objects in `ns` ("" = all) carrying every label in `match`.
  std::vector<ObjectPtr> ListLabels(const std::string& ns,
                                    const std::map<std::string, std::string>& match) const;
  // Objects that name `owner_uid` in metadata.ownerReferences.
  std::vector<ObjectPtr> ListOwnedBy(const std::string& owner_uid) const;
  size_t size() const;

  // Mutations, used by the informer; each returns the previous object.
  ObjectPtr Upsert(ObjectPtr obj);
  ObjectPtr erase(const std::string& key);
  std::vector<std::string> keys() const;

 private:
  void IndexLocked(const std::string& key, const Json& obj);
  void UnindexLocked(const std::string& key, const Json& obj);
  mutable std::mutex mu_;
  std::unordered_map<std::string, ObjectPtr> objects_;
  std::unordered_map<std::string, std::set<std::string>> by_namespace_;
  std::unordered_map<std::string, std::set<std::string>> by_owner_;
};

// A transform for Pod informers: keeps metadata, spec.nodeName and the
// status fields controllers read (phase, podIP, hostIP, conditions,
// startTime), and drops the rest (containers, volumes, container
// statuses), which is most of a Pod's size in memory.
void PrunePodForCache(Json& pod);
// The same selection for list responses, applied while parsing.
ListItemPrune PodCacheListPrune();

struct EventHandlers {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

struct InformerOptions {
  std::string namespace_;  // "" = all namespaces
  std::string label_selector;
  int64_t page_size = 500;
  bool strip_managed_fields = true;  // saves memory; controllers never read them
  // Prunes each object before it is cached (client-go's TransformFunc), e.g.
  // dropping pod spec fields a controller never reads. Must be idempotent.
  std::function<void(Json&)> transform;
  // The same pruning, declared so that the list is pruned while it is parsed
  // (client ListItemPrune); managedFields follow strip_managed_fields.
  ListItemPrune list_prune;
  // Serve the first list from the API server's watch cache
  // (resourceVersion=0), as client-go's reflector does: much cheaper for the
  // server; the watch that follows brings the cache up to date.
  bool initial_list_from_cache = true;
  int watch_timeout_seconds = 300;  // randomised upward by up to 2x per watch
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30000};
};

struct InformerStats {
  std::atomic<uint64_t> lists{0};
  std::atomic<uint64_t> watches{0};
  std::atomic<uint64_t> gone{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> events{0};
};

class Informer {
 public:
  Informer(std::shared_ptr<Client> client, Resource resource, InformerOptions options = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Register before start().
  void AddHandlers(EventHandlers handlers);
  void start();
  void stop();

  bool has_synced() const { return synced_.load(); }
  bool WaitForSync(std::chrono::milliseconds timeout);
  const Store& store() const { return store_; }
  const Resource& resource() const { return resource_; }
  const InformerStats& stats() const { return stats_; }
  std::string last_resource_version() const;

  // Test and safety hook: while paused, the informer keeps its cache but
  // stops consuming watch events, so the cache goes stale on purpose.
  void set_paused(bool paused);

 private:
  void run();
  bool Relist();                            // false when stopping
  bool WatchUntilError(bool* need_relist);  // false when stopping
  void deliver(WatchEventType type, ObjectPtr obj);
  ObjectPtr prepare(Json obj) const;
  bool WaitInterruptible(std::chrono::milliseconds d);

  std::shared_ptr<Client> client_;
  Resource resource_;
  InformerOptions options_;
  std::vector<EventHandlers> handlers_;
  Store store_;
  InformerStats stats_;

  std::atomic<bool> synced_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string resource_version_;
  WatchStream* current_watch_ = nullptr;
  std::thread thread_;
};

}  // namespace shardcast::kube
