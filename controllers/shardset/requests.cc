// Helpers of the ownership requests (contract C1) the reconciler publishes
// (pure).
#include <algorithm>
#include <map>
#include <tuple>

#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {

void CarrySince(std::vector<OwnershipRequest>& requests, const Json& previous,
                const std::string& now) {
  std::map<std::tuple<uint32_t, std::string, std::string>, std::string> known;
  if (previous.is_array()) {
    for (const auto& e : previous) {
      if (!e.is_object() || !e.contains("range") || !e["range"].is_number_integer() ||
          e["range"].get<int64_t>() < 0)
        continue;
      auto str = [&e](const char* k) {
        return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : std::string();
      };
      if (str("since").empty()) continue;
      known[{e["range"].get<uint32_t>(), str("owner"), str("reason")}] = str("since");
    }
  }
  for (auto& r : requests) {
    auto it = known.find({r.range, r.owner, r.reason});
    r.since = it != known.end() ? it->second : now;
  }
}

std::string LostRangesText(const std::vector<OwnershipRequest>& requests) {
  std::map<std::string, std::vector<uint32_t>> by_owner;
  for (const auto& r : requests) {
    if (r.reason == kReasonOwnerGone) by_owner[r.owner].push_back(r.range);
  }
  std::string out;
  for (auto& [owner, ids] : by_owner) {
    std::sort(ids.begin(), ids.end());
    if (!out.empty()) out += "; ";
    for (size_t i = 0; i < ids.size(); ++i) {
      out += (i == 0 ? "" : ", ") + std::to_string(ids[i]);
    }
    out += " (" + owner + ")";
  }
  return out;
}

std::string DataLostMessage(const std::vector<OwnershipRequest>& requests,
                            const std::string& policy) {
  std::string lost = LostRangesText(requests);
  if (lost.empty()) return {};
  return "no copy of the data of range(s) " + lost +
         " is left: the owner pod is gone and no PersistentVolumeClaim holds its data; " +
         (policy.empty()
              ? std::string("the ranges are waiting for a MigrationPolicy to move "
                            "ranges (Reassign to a live pod, empty)")
              : "MigrationPolicy " + policy + " reassigns them to a live pod, which starts empty");
}

std::string RequestsMessage(const std::vector<OwnershipRequest>& requests,
                            const std::string& policy) {
  if (requests.empty()) return {};
  std::map<std::string, size_t> by_reason;
  for (const auto& r : requests) ++by_reason[r.reason];
  std::string counts;
  for (const auto& [reason, n] : by_reason) {
    counts += (counts.empty() ? "" : ", ") + reason + " " + std::to_string(n);
  }
  std::string m = std::to_string(requests.size()) +
                  " range(s) must leave their owners (status.ownershipRequests: " + counts + "); ";
  if (policy.empty()) {
    return m +
           "waiting for a MigrationPolicy to move ranges: no MigrationPolicy governs this "
           "ShardSet, so they stay where they are";
  }
  return m + "MigrationPolicy " + policy + " moves them";
}

}  // namespace shardcast::shardset
