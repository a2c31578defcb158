// The routing document (docs/routing.md, docs/routing.schema.json): typed,
// with one parser that checks every invariant the docs promise and one
// serializer. Pure: no I/O.
//
//   auto doc = router::ParseDocument(text);
//   if (!doc) log(doc.error().message);   // e.g. "ranges[3].owner: must be ..."
//   std::string out = router::SerializeDocument(*doc);
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/expected.h"

namespace shardcast::router {

inline constexpr int kSchemaVersion = 1;
inline constexpr std::string_view kHashName = "fnv1a64-high32";
inline constexpr std::size_t kMaxRanges = 4096;

enum class RangeState { kStable, kMigrating, kShadow };
std::string_view RangeStateName(RangeState s);

struct Echo {
  std::string pod;
  std::string endpoint;                             // may be empty (no IP yet): not usable
  nlohmann::json extra = nlohmann::json::object();  // unknown fields, kept on serialize
  bool operator==(const Echo&) const = default;
};

struct Range {
  std::uint32_t id = 0;
  std::uint32_t start = 0;
  std::uint32_t end = 0;  // inclusive
  std::string owner;
  std::string endpoint;  // "" while the owner has no IP
  RangeState state = RangeState::kStable;
  std::optional<std::string> source;           // set iff migrating/shadow
  std::optional<std::string> target;           // set iff migrating/shadow
  std::optional<std::string> target_endpoint;  // optional while migrating/shadow
  double shadow_fraction = 0;
  std::vector<Echo> echoes;
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Range&) const = default;
};

struct Document {
  int schema_version = kSchemaVersion;
  std::string shard_set;
  std::uint64_t epoch = 0;
  std::string hash = std::string(kHashName);
  std::vector<Range> ranges;  // sorted by start, covering [0, 2^32-1]
  nlohmann::json extra = nlohmann::json::object();
  bool operator==(const Document&) const = default;
};

// Parses and validates routing.json. Errors name the field
// ("ranges[3].owner: must be a non-empty string").
[[nodiscard]] Result<Document> ParseDocument(std::string_view text);
[[nodiscard]] Result<Document> DocumentFromJson(const nlohmann::json& json);

// Checks the invariants of an already typed document (used by the parser
// and by writers before publishing).
[[nodiscard]] Result<void> ValidateDocument(const Document& doc);

nlohmann::json DocumentToJson(const Document& doc);
std::string SerializeDocument(const Document& doc);

// `count` ranges splitting [0, 2^32) evenly (start_i = floor(i * 2^32 / N)).
std::vector<Range> EvenRanges(std::uint32_t count);

// host:port with an IPv6 host in brackets, as the schema's endpoint pattern.
bool IsValidEndpoint(std::string_view endpoint);
// A Kubernetes pod name (DNS-1123 label-ish, 1..253 chars).
bool IsValidPodName(std::string_view name);

}  // namespace shardcast::router
