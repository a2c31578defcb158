#include "controllers/shardset/last_good.h"

#include "controllers/api/resources.h"

namespace shardcast::shardset {

std::string LastGoodName(const std::string& config_map) { return config_map + "-last-good"; }

std::optional<LastGood> LastGoodIn(const Json& cm, const std::string& uid) {
  if (!cm.is_object() || !cm.contains("metadata") || !cm["metadata"].is_object()) {
    return std::nullopt;
  }
  const Json& md = cm["metadata"];
  bool ours = false;
  if (md.contains("ownerReferences") && md["ownerReferences"].is_array()) {
    for (const auto& o : md["ownerReferences"]) {
      ours = ours || (o.is_object() && o.value("controller", false) == true &&
                      o.value("uid", Json()) == uid);
    }
  }
  if (!ours || !cm.contains("data") || !cm["data"].is_object()) return std::nullopt;
  const Json& data = cm["data"];
  if (!data.contains(api::kRoutingKey) || !data[api::kRoutingKey].is_string()) {
    return std::nullopt;
  }
  std::string text = data[api::kRoutingKey].get<std::string>();
  auto doc = ParseRoutingDocument(text);
  if (!doc) return std::nullopt;
  return LastGood{doc->epoch, std::move(text)};
}

Json BuildLastGoodConfigMap(const ShardSetSpec& set, const LastGood& good, const Json& existing) {
  Json cm =
      existing.is_object()
          ? existing
          : Json{{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", LastGoodName(set.config_map)}, {"namespace", set.ns}}}};
  Json& md = cm["metadata"];
  if (!md.contains("labels") || !md["labels"].is_object()) md["labels"] = Json::object();
  md["labels"][api::kLabelShardSet] = set.name;
  if (!md.contains("annotations") || !md["annotations"].is_object()) {
    md["annotations"] = Json::object();
  }
  md["annotations"]["shardcast.dev/last-good-epoch"] = std::to_string(good.epoch);
  md["ownerReferences"] = Json::array({OwnerReference(set)});
  cm["data"] = Json{{api::kRoutingKey, good.text}};
  return cm;
}

std::string RestoreCommand(const ShardSetSpec& set) {
  const std::string k = "kubectl -n " + set.ns + " ";
  return k + "get configmap " + LastGoodName(set.config_map) +
         " -o jsonpath='{.data.routing\\.json}' > routing.json && " + k + "create configmap " +
         set.config_map +
         " --from-file=routing.json=routing.json --dry-run=client -o yaml | kubectl label "
         "--local -f - " +
         api::kLabelShardSet + "=" + set.name + " -o yaml | " + k +
         "apply --server-side --force-conflicts --field-manager=shardcast-restore -f -";
}

std::string InvalidRoutingMessage(const ShardSetSpec& set, const std::string& error,
                                  const std::optional<LastGood>& good) {
  std::string m = "ConfigMap " + set.config_map + ": " +
                  (error.empty() ? std::string("the routing document (key routing.json) is "
                                               "missing although one was published")
                                 : error) +
                  ". It is not rebuilt; no ownership request and no pod deletion until it is "
                  "valid again. ";
  if (good) {
    m += "The last good document (epoch " + std::to_string(good->epoch) +
         ") is kept in ConfigMap " + LastGoodName(set.config_map) +
         "; repair the field or copy it back with: " + RestoreCommand(set);
  } else {
    m += "No last good copy is known; repair the field.";
  }
  return m;
}

std::optional<LastGood> LastGoodMemory::get(const std::string& uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end()) return std::nullopt;
  return it->second;
}

void LastGoodMemory::put(const std::string& uid, const LastGood& good) {
  std::lock_guard<std::mutex> lock(mu_);
  by_uid_[uid] = good;
}

void LastGoodMemory::forget(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  by_uid_.erase(uid);
}

}  // namespace shardcast::shardset
