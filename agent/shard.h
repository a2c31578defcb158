// Operations the agent runs on one shard (its own or a peer's) over a
// RedisConn: fenced marker writes, range scans, MIGRATE batches, deletes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/redis_conn.h"
#include "agent/request.h"
#include "agent/rules.h"

namespace shardcast::agent {

// Raised by the fence script when the shard has seen a higher token.
struct FenceResult {
  bool fenced = false;    // refused: a higher token was seen
  std::int64_t seen = 0;  // the shard's highest token before this call
};

// Atomically (one Lua script on the shard): refuse when `token` is lower
// than __shardcast:fence, raise the fence to `token`, then set the marker
// (`value`, with PX `px_ms` when > 0) or delete it (`value` empty) or do
// nothing more (`marker_range` empty).
[[nodiscard]] Result<FenceResult> FencedMarkerWrite(RedisConn& conn, std::int64_t token,
                                                    std::optional<std::uint32_t> marker_range,
                                                    const std::string& value,
                                                    std::int64_t px_ms = 0);

// The marker of a range on this shard; nullopt when absent.
[[nodiscard]] Result<std::optional<Marker>> ReadMarker(RedisConn& conn, std::uint32_t range);

struct ScanPage {
  std::string cursor;             // "0" when the scan is complete
  std::vector<std::string> keys;  // keys of the range (reserved keys left out)
  std::uint64_t scanned = 0;      // keys the page held before filtering
};
[[nodiscard]] Result<ScanPage> ScanRange(RedisConn& conn, const std::string& cursor,
                                         std::uint32_t start, std::uint32_t end, int count);

// MEMORY USAGE of each key (0 for a key that is gone), one round trip.
[[nodiscard]] Result<std::vector<std::int64_t>> MemoryUsage(RedisConn& conn,
                                                            const std::vector<std::string>& keys);

// The keys of `batch` still present (MEMORY USAGE > 0), and their bytes:
// what a copy of them moves. One round trip.
struct SizedKeys {
  std::vector<std::string> keys;
  std::int64_t bytes = 0;
};
[[nodiscard]] Result<SizedKeys> PresentKeys(RedisConn& conn, std::vector<std::string> batch);

// MIGRATE host port "" 0 timeout [COPY] REPLACE KEYS ... ("NOKEY" is fine).
[[nodiscard]] Result<void> Migrate(RedisConn& conn, const Endpoint& to,
                                   const std::vector<std::string>& keys, bool copy, int timeout_ms);

// How many keys of [start, end] the shard holds (a full scan).
[[nodiscard]] Result<std::uint64_t> CountRangeKeys(RedisConn& conn, std::uint32_t start,
                                                   std::uint32_t end);
// Deletes every key of [start, end] (UNLINK in pages); returns how many.
[[nodiscard]] Result<std::uint64_t> DeleteRangeKeys(RedisConn& conn, std::uint32_t start,
                                                    std::uint32_t end);

}  // namespace shardcast::agent
