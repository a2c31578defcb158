// History persistence: one ConfigMap `<shardset>-history` per ShardSet
// holding a compact snapshot of every series (predictor::History snapshot,
// base64), within a byte budget below the 1 MiB ConfigMap limit. Pure
// builders/loaders plus a CSV seeding function for backfills and demos.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controllers/forecast/state.h"
#include "operator/kube/client.h"
#include "util/expected.h"

namespace shardcast::forecast {

inline constexpr size_t kDefaultSnapshotBudget = 900 * 1024;  // bytes of data (limit 1 MiB total)
inline constexpr const char* kMetaKey = "meta.json";

std::string HistoryConfigMapName(const std::string& shardset);

// A ConfigMap `name` (empty data) in the ShardSet's namespace as the forecast
// controller writes them: labelled with the ShardSet and owned by it (not as
// controller), so it goes when the ShardSet goes.
nlohmann::json ForecastConfigMap(const nlohmann::json& shardset, const std::string& name);

struct BuildReport {
  size_t bytes = 0;                  // keys + values in data
  std::vector<std::string> dropped;  // keys left out to stay within the budget
  size_t trimmed = 0;                // range series shortened (oldest buckets dropped)
};

// The ConfigMap (apiVersion, kind, metadata with name, namespace, the
// shardset label and an owner reference to the ShardSet, data). Keys:
// `cpu.<pod>`, `mem.<pod>`, `rps.<pod>` and `range.<id>` with snapshots,
// and `meta.json`. Filled in priority order while within `budget`: pod
// CPU and request rate at full resolution (coarsest level only when that
// does not fit), pod memory at its coarsest level, then the ranges, which
// share what is left equally: a range over its share keeps only its newest
// 1344/672/288/96 coarse buckets (oldest dropped first). Whatever still
// does not fit is left out and reported.
nlohmann::json BuildHistoryConfigMap(const nlohmann::json& shardset, const SetState& state,
                                     int64_t now, size_t budget = kDefaultSnapshotBudget,
                                     BuildReport* report = nullptr);

// Loads every decodable series from a history ConfigMap into `state`
// (replacing series of the same key); corrupt or unknown entries are
// skipped and named in `errors`. Returns the number of series loaded.
size_t LoadHistoryConfigMap(const nlohmann::json& cm, SetState& state,
                            std::vector<std::string>* errors);

// Seeds one pod series from CSV (`timestamp,value` with a header, see
// predictor::ParseCsvSeries) into `state`. metric: "cpu" (millicores),
// "mem" (bytes) or "rps"; or "range", when `pod` is a range id and the
// values are that range's requests/s. Returns the number of samples added.
// The metrics SeedFromCsv takes, and their names for messages.
bool IsSeedMetric(const std::string& metric);
inline constexpr const char* kSeedMetrics = "cpu, mem, rps or range";
[[nodiscard]] Result<size_t> SeedFromCsv(SetState& state, const std::string& pod,
                                         const std::string& metric, const std::string& csv);

// Backfill against a cluster: reads the ShardSet ns/name, loads its history
// ConfigMap (if any), adds the CSV samples for `pod` and writes the
// ConfigMap back (create, or update with the resourceVersion read). Run it
// before the operator starts (or restart the operator afterwards): a
// running operator keeps its in-memory history and overwrites the map.
[[nodiscard]] Result<size_t> BackfillFromCsv(kube::Client& client, const std::string& ns,
                                             const std::string& shardset, const std::string& pod,
                                             const std::string& metric, const std::string& csv,
                                             const StateOptions& options = {});

}  // namespace shardcast::forecast
