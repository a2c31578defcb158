// The last good routing document of each ShardSet. A corrupt document is
// never rebuilt: the controller keeps the last valid one it observed, in
// memory and durably in the ConfigMap `<configMapName>-last-good` (key
// routing.json, label shardcast.dev/shardset, owner reference to the
// ShardSet), and tells how to copy it back.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {

struct LastGood {
  int64_t epoch = 0;
  std::string text;  // routing.json as observed
};

// `<config_map>-last-good`.
std::string LastGoodName(const std::string& config_map);

// The copy held by a cached last-good ConfigMap, if it is controlled by the
// ShardSet `uid` and holds a valid document.
std::optional<LastGood> LastGoodIn(const Json& config_map, const std::string& uid);

// The last-good ConfigMap for `set` holding `good`: `existing` (the cached
// object, for an update with its resourceVersion) or a new one.
Json BuildLastGoodConfigMap(const ShardSetSpec& set, const LastGood& good, const Json& existing);

// The shell command that copies the last good copy back into the routing
// ConfigMap (server-side apply of routing.json only; labels the ConfigMap
// when it has to be created).
std::string RestoreCommand(const ShardSetSpec& set);

// The Degraded message for a routing ConfigMap whose document is invalid
// (`error` names the field) or missing (`error` empty).
std::string InvalidRoutingMessage(const ShardSetSpec& set, const std::string& error,
                                  const std::optional<LastGood>& good);

// In-memory copies by ShardSet uid (thread-safe).
class LastGoodMemory {
 public:
  std::optional<LastGood> get(const std::string& uid) const;
  void put(const std::string& uid, const LastGood& good);
  void forget(const std::string& uid);

 private:
  mutable std::mutex mu_;
  std::map<std::string, LastGood> by_uid_;
};

}  // namespace shardcast::shardset
