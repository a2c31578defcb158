// Pure routing decisions: where a read or write goes, read-your-writes per
// connection, and which reads are mirrored to a shadow target.
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "router/document.h"

namespace shardcast::router {

// Per-connection memory of the ranges it has written (read-your-writes).
class Session {
 public:
  void NoteWrite(std::uint32_t range_id) {
    if (range_id < kMaxRanges) written_.set(range_id);
  }
  bool HasWritten(std::uint32_t range_id) const {
    return range_id < kMaxRanges && written_.test(range_id);
  }

 private:
  std::bitset<kMaxRanges> written_;
};

// What a read decision may use about the shards right now.
struct LoadView {
  // Requests sent to this endpoint and not yet answered.
  std::function<std::uint64_t(const std::string& endpoint)> outstanding;
  // The pod's published load factor (forecast load / capacity); 1 when
  // unknown. Higher means busier. Values <= 0 are treated as 1.
  std::function<double(const std::string& pod)> load_factor;
  // Echo endpoints that answered NOTECHO under the current table.
  const std::set<std::string>* disabled_echoes = nullptr;
};

struct Destination {
  std::string endpoint;  // "" when the range is unavailable (no IP yet)
  std::string pod;
  bool echo = false;  // send with the "e" flag
};

// Writes (and reads of a connection that wrote the range): the owner.
Destination WriteDestination(const Range& range);

// A read: the owner or one of its echoes with a non-empty endpoint, by the
// lowest (outstanding + 1) * load_factor; ties go to the owner, then to the
// earlier echo. A session that wrote the range reads from the owner.
Destination ReadDestination(const Range& range, const Session* session, const LoadView& load);

// Whether read number `sequence` of `range` is mirrored to its shadow target:
// a deterministic pseudo-random draw (splitmix64 of range id and sequence)
// below shadowFraction. Only in state shadow with a target endpoint.
bool ShouldShadow(const Range& range, std::uint64_t sequence);

// The pseudo-random draw behind ShouldShadow, in [0, 1).
double ShadowDraw(std::uint32_t range_id, std::uint64_t sequence);

// pod -> load factor, settable by the proxy; thread-compatible value type.
using LoadFactors = std::map<std::string, double, std::less<>>;

}  // namespace shardcast::router
