// A typed Kubernetes API client over a Transport. Objects are JSON
// (nlohmann::json); the client knows resource paths and verbs, nothing of
// shards.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "operator/kube/error.h"
#include "operator/kube/transport.h"

namespace shardcast::kube {

using Json = nlohmann::json;

struct Resource {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  std::string kind;
  bool namespaced = true;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
};

namespace resources {
extern const Resource kPods;
extern const Resource kConfigMaps;
extern const Resource kEvents;
extern const Resource kNamespaces;
extern const Resource kNodes;
extern const Resource kPersistentVolumeClaims;
extern const Resource kLeases;
extern const Resource kPodMetrics;
}  // namespace resources

// Fields of each listed item dropped while the response is parsed, so that
// a large list (10,000 pods) never exists in memory in full: peak memory and
// the heap fragmentation it leaves behind both shrink.
struct ListItemPrune {
  bool drop_managed_fields = false;                  // metadata.managedFields
  std::optional<std::set<std::string>> keep_spec;    // nullopt: keep all of spec
  std::optional<std::set<std::string>> keep_status;  // nullopt: keep all of status
  bool active() const { return drop_managed_fields || keep_spec || keep_status; }
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // 0: no limit
  std::string continue_token;
  std::string resource_version;  // "" : most recent (quorum read)
  ListItemPrune prune;           // applied by list() and ListAll() while parsing
};

struct ListResult {
  std::vector<Json> items;
  std::string resource_version;
  int pages = 0;
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

struct PatchOptions {
  std::string field_manager;
  bool force = false;       // server-side apply only
  std::string subresource;  // "" or "status", "scale"
};

struct DeleteOptions {
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::string propagation_policy;  // "", "Foreground", "Background", "Orphan"
  std::optional<int64_t> grace_period_seconds;
};

struct WatchOptions {
  std::string resource_version;
  bool allow_bookmarks = true;
  int timeout_seconds = 300;  // server-side end of the watch
  std::string label_selector;
  std::string field_selector;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark };

struct WatchEvent {
  WatchEventType type;
  Json object;
};

// One open watch. next() blocks for the next event; nullopt means the server
// ended the watch normally (timeoutSeconds); an error of kind kGone means the
// resourceVersion is too old and the caller must re-list.
class WatchStream {
 public:
  explicit WatchStream(std::unique_ptr<LineStream> lines) : lines_(std::move(lines)) {}
  [[nodiscard]] ApiResult<std::optional<WatchEvent>> next();
  void cancel() { lines_->cancel(); }

 private:
  std::unique_ptr<LineStream> lines_;
};

// Decodes one line of a watch stream; exposed for tests and the fuzzer.
ApiResult<WatchEvent> ParseWatchEvent(const std::string& line);

class Client {
 public:
  explicit Client(std::shared_ptr<Transport> transport) : transport_(std::move(transport)) {}

  [[nodiscard]] ApiResult<Json> get(const Resource& r, const std::string& ns,
                                    const std::string& name, const std::string& subresource = {});
  [[nodiscard]] ApiResult<Json> list(const Resource& r, const std::string& ns,
                                     const ListOptions& opts = {});
  // Follows `continue` until the list is complete.
  [[nodiscard]] ApiResult<ListResult> ListAll(const Resource& r, const std::string& ns,
                                              ListOptions opts = {});
  [[nodiscard]] ApiResult<Json> create(const Resource& r, const std::string& ns, const Json& obj);
  // PUT; the object's metadata.resourceVersion is the precondition, so a
  // stale object fails with kConflict.
  [[nodiscard]] ApiResult<Json> update(const Resource& r, const std::string& ns, const Json& obj,
                                       const std::string& subresource = {});
  [[nodiscard]] ApiResult<Json> UpdateStatus(const Resource& r, const std::string& ns,
                                             const Json& obj) {
    return update(r, ns, obj, "status");
  }
  [[nodiscard]] ApiResult<Json> patch(const Resource& r, const std::string& ns,
                                      const std::string& name, PatchType type, const Json& body,
                                      const PatchOptions& opts = {});
  // Server-side apply of a full intent object.
  [[nodiscard]] ApiResult<Json> apply(const Resource& r, const std::string& ns, const Json& obj,
                                      const std::string& field_manager, bool force = false,
                                      const std::string& subresource = {});
  [[nodiscard]] ApiStatus remove(const Resource& r, const std::string& ns, const std::string& name,
                                 const DeleteOptions& opts = {});
  [[nodiscard]] ApiResult<std::unique_ptr<WatchStream>> watch(const Resource& r,
                                                              const std::string& ns,
                                                              const WatchOptions& opts);
  // GET of an arbitrary API path returning JSON (e.g. "/version").
  [[nodiscard]] ApiResult<Json> GetPath(const std::string& path);
  [[nodiscard]] ApiResult<Json> ServerVersion() { return GetPath("/version"); }
  // Discovery: whether group/version is served (e.g. metrics.k8s.io/v1beta1).
  [[nodiscard]] ApiResult<bool> serves(const std::string& group, const std::string& version);

  Transport& transport() { return *transport_; }

  // Called after every request with its method ("GET", "PATCH", ...) and
  // HTTP status (0 when no response arrived); used for metrics. Set before
  // the client is shared between threads.
  using RequestObserver = std::function<void(const std::string& method, int status)>;
  void set_request_observer(RequestObserver observer) { observer_ = std::move(observer); }

  // Path of a collection or object; exposed for tests.
  static std::string Path(const Resource& r, const std::string& ns, const std::string& name = {},
                          const std::string& subresource = {});

 private:
  ApiResult<Json> call(const HttpRequest& req);
  ApiResult<HttpResponse> send(const HttpRequest& req);
  std::shared_ptr<Transport> transport_;
  RequestObserver observer_;
};

// Builds a query string ("?a=b&c=d") with percent-encoding; "" when empty.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace shardcast::kube
