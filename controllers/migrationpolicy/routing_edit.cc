// Routing-document edits of the executor's steps (pure).
#include <algorithm>

#include "controllers/migrationpolicy/migrationpolicy.h"

namespace shardcast::migrationpolicy {

RangeView ViewRange(const Json& doc, uint32_t id) {
  RangeView v;
  if (!doc.is_object() || !doc.contains("ranges") || !doc["ranges"].is_array()) return v;
  for (const auto& r : doc["ranges"]) {
    if (!r.is_object() || !r.contains("id") || !r["id"].is_number_unsigned() ||
        r["id"].get<uint64_t>() != id) {
      continue;
    }
    v.found = true;
    if (r.contains("start") && r["start"].is_number_unsigned())
      v.start = r["start"].get<uint32_t>();
    if (r.contains("end") && r["end"].is_number_unsigned()) v.end = r["end"].get<uint32_t>();
    auto s = [&](const char* k) {
      return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : "";
    };
    v.owner = s("owner");
    v.state = s("state").empty() ? "stable" : s("state");
    v.source = s("source");
    v.target = s("target");
    if (r.contains("echoes") && r["echoes"].is_array()) {
      for (const auto& e : r["echoes"]) {
        if (e.is_object() && e.contains("pod") && e["pod"].is_string())
          v.echoes.push_back(e["pod"].get<std::string>());
      }
    }
    return v;
  }
  return v;
}

Result<Json> ApplyRoutingEdit(const Json& doc, const RoutingEdit& edit) {
  if (!doc.is_object() || !doc.contains("ranges") || !doc["ranges"].is_array()) {
    return unexpected(Error{"routing.json ranges: missing"});
  }
  if (!doc.contains("epoch") || !doc["epoch"].is_number_integer()) {
    return unexpected(Error{"routing.json epoch: must be an integer"});
  }
  Json out = doc;
  Json* entry = nullptr;
  for (auto& r : out["ranges"]) {
    if (r.is_object() && r.contains("id") && r["id"].is_number_unsigned() &&
        r["id"].get<uint64_t>() == edit.range) {
      entry = &r;
    }
  }
  const std::string f = "routing.json ranges[id=" + std::to_string(edit.range) + "]";
  if (entry == nullptr) return unexpected(Error{f + ": no such range"});
  Json& e = *entry;
  std::string owner = e.value("owner", Json()).is_string() ? e["owner"].get<std::string>() : "";
  auto clear = [&]() {
    e["state"] = "stable";
    e["source"] = nullptr;
    e["target"] = nullptr;
    if (e.contains("targetEndpoint")) e["targetEndpoint"] = nullptr;
    e["shadowFraction"] = 0;
  };
  switch (edit.write) {
    case Write::kMarkMigrating:
    case Write::kMarkShadow: {
      if (owner != edit.source)
        return unexpected(Error{f + ".owner: is " + owner + ", not the source " + edit.source});
      bool shadow = edit.write == Write::kMarkShadow;
      e["state"] = shadow ? "shadow" : "migrating";
      e["source"] = edit.source;
      e["target"] = edit.target;
      if (!edit.targetEndpoint.empty()) e["targetEndpoint"] = edit.targetEndpoint;
      e["shadowFraction"] = shadow ? edit.shadowFraction : 0.0;
      break;
    }
    case Write::kCutover:
    case Write::kReassign: {
      if (owner != edit.source)
        return unexpected(Error{f + ".owner: is " + owner + ", not the source " + edit.source});
      e["owner"] = edit.target;
      e["endpoint"] = edit.targetEndpoint;
      clear();
      if (e.contains("echoes") && e["echoes"].is_array()) {
        Json kept = Json::array();
        for (const auto& x : e["echoes"]) {
          if (!(x.is_object() && x.value("pod", Json()) == edit.target)) kept.push_back(x);
        }
        e["echoes"] = kept;
      }
      break;
    }
    case Write::kRevert: {
      if (owner != edit.source && owner != edit.target) {
        return unexpected(Error{f + ".owner: is " + owner + ", neither source nor target"});
      }
      e["owner"] = edit.source;
      e["endpoint"] = edit.sourceEndpoint;
      clear();
      break;
    }
    case Write::kAddEcho:
    case Write::kRemoveEcho: {
      if (!e.contains("echoes") || !e["echoes"].is_array()) e["echoes"] = Json::array();
      Json kept = Json::array();
      for (const auto& x : e["echoes"]) {
        if (!(x.is_object() && x.value("pod", Json()) == edit.target)) kept.push_back(x);
      }
      if (edit.write == Write::kAddEcho)
        kept.push_back({{"pod", edit.target}, {"endpoint", edit.targetEndpoint}});
      e["echoes"] = kept;
      break;
    }
    case Write::kSplit: {
      const uint32_t start = e.value("start", 0u), end = e.value("end", 0u);
      if (!(edit.splitAt > start && edit.splitAt <= end)) {
        return unexpected(Error{f + ".splitAt: " + std::to_string(edit.splitAt) + " is outside [" +
                                std::to_string(start) + ", " + std::to_string(end) + "]"});
      }
      if (e.value("state", std::string("stable")) != "stable")
        return unexpected(Error{f + ".state: not stable"});
      for (const auto& r : out["ranges"]) {
        if (r.is_object() && r.value("id", Json()) == edit.other) {
          return unexpected(Error{"routing.json ranges[id=" + std::to_string(edit.other) +
                                  "]: id already in use"});
        }
      }
      Json upper = e;
      upper["id"] = edit.other;
      upper["start"] = edit.splitAt;
      upper["echoes"] =
          Json::array();  // echo replicas hold the whole range; they are re-planned per half
      e["end"] = edit.splitAt - 1;
      out["ranges"].push_back(upper);
      break;
    }
    case Write::kMerge: {
      Json* b = nullptr;
      for (auto& r : out["ranges"]) {
        if (r.is_object() && r.value("id", Json()) == edit.other) b = &r;
      }
      const std::string g = "routing.json ranges[id=" + std::to_string(edit.other) + "]";
      if (b == nullptr) return unexpected(Error{g + ": no such range"});
      const uint32_t end = e.value("end", 0u);
      if (end == UINT32_MAX || b->value("start", 0u) != end + 1)
        return unexpected(Error{g + ".start: not adjacent"});
      if (b->value("owner", std::string()) != owner)
        return unexpected(Error{g + ".owner: not the same owner"});
      if (e.value("state", std::string("stable")) != "stable" ||
          b->value("state", std::string("stable")) != "stable") {
        return unexpected(Error{f + ".state: not stable"});
      }
      e["end"] = b->value("end", 0u);
      Json kept = Json::array();
      for (const auto& r : out["ranges"]) {
        if (!(r.is_object() && r.value("id", Json()) == edit.other)) kept.push_back(r);
      }
      out["ranges"] = kept;
      break;
    }
    default:
      return unexpected(
          Error{std::string("routing edit: ") + WriteName(edit.write) + " does not edit routing"});
  }
  if (edit.write == Write::kSplit || edit.write == Write::kMerge) {
    std::sort(out["ranges"].begin(), out["ranges"].end(), [](const Json& x, const Json& y) {
      return x.value("start", 0u) < y.value("start", 0u);
    });
  }
  out["epoch"] = doc["epoch"].get<int64_t>() + 1;
  return out;
}

}  // namespace shardcast::migrationpolicy
