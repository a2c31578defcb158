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

namespace {

// The routing entry of range `id` in `ranges` (the last one, as ids are
// unique), or nullptr.
Json* FindRangeEntry(Json& ranges, uint32_t id) {
  Json* entry = nullptr;
  for (auto& r : ranges) {
    if (r.is_object() && r.contains("id") && r["id"].is_number_unsigned() &&
        r["id"].get<uint64_t>() == id) {
      entry = &r;
    }
  }
  return entry;
}

// Back to a stable range with no migration under way.
void ClearMigration(Json& e) {
  e["state"] = "stable";
  e["source"] = nullptr;
  e["target"] = nullptr;
  if (e.contains("targetEndpoint")) e["targetEndpoint"] = nullptr;
  e["shadowFraction"] = 0;
}

// `echoes` without `pod`'s entries.
Json EchoesWithout(const Json& echoes, const std::string& pod) {
  Json kept = Json::array();
  for (const auto& x : echoes) {
    if (!(x.is_object() && x.value("pod", Json()) == pod)) kept.push_back(x);
  }
  return kept;
}

// MarkMigrating / MarkShadow: the range starts moving from its owner.
Result<void> MarkMigration(Json& e, const std::string& owner, const RoutingEdit& edit,
                           const std::string& f) {
  if (owner != edit.source)
    return unexpected(Error{f + ".owner: is " + owner + ", not the source " + edit.source});
  bool shadow = edit.write == Write::kMarkShadow;
  e["state"] = shadow ? "shadow" : "migrating";
  e["source"] = edit.source;
  e["target"] = edit.target;
  if (!edit.target_endpoint.empty()) e["targetEndpoint"] = edit.target_endpoint;
  e["shadowFraction"] = shadow ? edit.shadow_fraction : 0.0;
  return {};
}

// Cutover / Reassign: the target owns the range (and is no longer its echo).
Result<void> HandOver(Json& e, const std::string& owner, const RoutingEdit& edit,
                      const std::string& f) {
  if (owner != edit.source)
    return unexpected(Error{f + ".owner: is " + owner + ", not the source " + edit.source});
  e["owner"] = edit.target;
  e["endpoint"] = edit.target_endpoint;
  ClearMigration(e);
  if (e.contains("echoes") && e["echoes"].is_array()) {
    e["echoes"] = EchoesWithout(e["echoes"], edit.target);
  }
  return {};
}

// Revert: the source owns the range again.
Result<void> Revert(Json& e, const std::string& owner, const RoutingEdit& edit,
                    const std::string& f) {
  if (owner != edit.source && owner != edit.target) {
    return unexpected(Error{f + ".owner: is " + owner + ", neither source nor target"});
  }
  e["owner"] = edit.source;
  e["endpoint"] = edit.source_endpoint;
  ClearMigration(e);
  return {};
}

// AddEcho / RemoveEcho: the target is (or is no longer) an echo of the range.
void EditEchoes(Json& e, const RoutingEdit& edit) {
  if (!e.contains("echoes") || !e["echoes"].is_array()) e["echoes"] = Json::array();
  Json kept = EchoesWithout(e["echoes"], edit.target);
  if (edit.write == Write::kAddEcho)
    kept.push_back({{"pod", edit.target}, {"endpoint", edit.target_endpoint}});
  e["echoes"] = kept;
}

// Split: `e` keeps [start, splitAt - 1]; a new range `other` gets the rest.
Result<void> SplitRange(Json& out, Json& e, const RoutingEdit& edit, const std::string& f) {
  const uint32_t start = e.value("start", 0u), end = e.value("end", 0u);
  if (!(edit.split_at > start && edit.split_at <= end)) {
    return unexpected(Error{f + ".splitAt: " + std::to_string(edit.split_at) + " is outside [" +
                            std::to_string(start) + ", " + std::to_string(end) + "]"});
  }
  if (e.value("state", std::string("stable")) != "stable")
    return unexpected(Error{f + ".state: not stable"});
  for (const auto& r : out["ranges"]) {
    if (r.is_object() && r.value("id", Json()) == edit.other) {
      return unexpected(
          Error{"routing.json ranges[id=" + std::to_string(edit.other) + "]: id already in use"});
    }
  }
  Json upper = e;
  upper["id"] = edit.other;
  upper["start"] = edit.split_at;
  upper["echoes"] =
      Json::array();  // echo replicas hold the whole range; they are re-planned per half
  e["end"] = edit.split_at - 1;
  out["ranges"].push_back(upper);
  return {};
}

// Merge: `e` absorbs the adjacent range `other` of the same owner.
Result<void> MergeRange(Json& out, Json& e, const std::string& owner, const RoutingEdit& edit,
                        const std::string& f) {
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
  return {};
}

// Applies `edit` to the entry `e` of `out` (whose owner is `owner`).
Result<void> EditEntry(Json& out, Json& e, const std::string& owner, const RoutingEdit& edit,
                       const std::string& f) {
  switch (edit.write) {
    case Write::kMarkMigrating:
    case Write::kMarkShadow:
      return MarkMigration(e, owner, edit, f);
    case Write::kCutover:
    case Write::kReassign:
      return HandOver(e, owner, edit, f);
    case Write::kRevert:
      return Revert(e, owner, edit, f);
    case Write::kAddEcho:
    case Write::kRemoveEcho:
      EditEchoes(e, edit);
      return {};
    case Write::kSplit:
      return SplitRange(out, e, edit, f);
    case Write::kMerge:
      return MergeRange(out, e, owner, edit, f);
    default:
      return unexpected(
          Error{std::string("routing edit: ") + WriteName(edit.write) + " does not edit routing"});
  }
}

}  // namespace

Result<Json> ApplyRoutingEdit(const Json& doc, const RoutingEdit& edit) {
  if (!doc.is_object() || !doc.contains("ranges") || !doc["ranges"].is_array()) {
    return unexpected(Error{"routing.json ranges: missing"});
  }
  if (!doc.contains("epoch") || !doc["epoch"].is_number_integer()) {
    return unexpected(Error{"routing.json epoch: must be an integer"});
  }
  Json out = doc;
  Json* entry = FindRangeEntry(out["ranges"], edit.range);
  const std::string f = "routing.json ranges[id=" + std::to_string(edit.range) + "]";
  if (entry == nullptr) return unexpected(Error{f + ": no such range"});
  Json& e = *entry;
  std::string owner = e.value("owner", Json()).is_string() ? e["owner"].get<std::string>() : "";
  if (auto r = EditEntry(out, e, owner, edit, f); !r) return unexpected(r.error());
  if (edit.write == Write::kSplit || edit.write == Write::kMerge) {
    std::sort(out["ranges"].begin(), out["ranges"].end(), [](const Json& x, const Json& y) {
      return x.value("start", 0u) < y.value("start", 0u);
    });
  }
  out["epoch"] = doc["epoch"].get<int64_t>() + 1;
  return out;
}

}  // namespace shardcast::migrationpolicy
