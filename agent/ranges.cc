// Range size reports (docs/agent.md): keys and bytes per range on this
// shard, from one SCAN. GET /shardcast/ranges?count=N reports the equal
// split into N ranges; POST /shardcast/ranges reports an explicit list
// (CONTRACTS C4). Bytes are MEMORY USAGE, of every key when the shard holds
// at most M keys (`samples`), else of every k-th key and scaled (the answer
// says which); the same rule for both forms.
#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "agent/hash.h"
#include "agent/shard.h"

namespace shardcast::agent {

using Json = nlohmann::json;

HttpAnswer Agent::Ranges(const HttpRequest& req) {
  const auto q = ParseQuery(req.query);
  std::uint64_t max_samples = opts_.max_size_samples;
  try {
    if (auto it = q.find("samples"); it != q.end()) max_samples = std::stoull(it->second);
  } catch (...) {
    return ErrorAnswer(400, "samples: must be a non-negative integer");
  }
  if (req.method == "POST") {
    auto ranges = ParseRangeList(req.body);
    if (!ranges) return ErrorAnswer(400, ranges.error().message);
    return SizeReport(*ranges, max_samples, Json::object());
  }
  std::int64_t count = 256;
  try {
    if (auto it = q.find("count"); it != q.end()) count = std::stoll(it->second);
  } catch (...) {
    return ErrorAnswer(400, "count: must be an integer in [1, 65536]");
  }
  auto ranges = EqualRanges(count);
  if (!ranges) return ErrorAnswer(400, ranges.error().message);
  return SizeReport(*ranges, max_samples, Json{{"count", count}});
}

HttpAnswer Agent::SizeReport(const std::vector<RangeBounds>& ranges, std::uint64_t max_samples,
                             nlohmann::json ans) {
  const RangeIndex index(ranges);
  std::lock_guard<std::mutex> lock(mu_);
  std::string err;
  RedisConn* self = Self(&err);
  if (self == nullptr) return ErrorAnswer(503, "own shard unreachable: " + err);
  auto db = ExpectInt(self->Command({"DBSIZE"}), "DBSIZE");
  if (!db) return ErrorAnswer(503, db.error().message);
  const std::uint64_t stride = SampleStride(static_cast<std::uint64_t>(*db), max_samples);
  std::vector<RangeTally> tally(ranges.size());
  std::uint64_t seen = 0, keys = 0, sampled = 0, sampled_bytes = 0;
  std::string cursor = "0";
  do {
    auto r = self->Command({"SCAN", cursor, "COUNT", "1000"});
    if (!r || r->is_error() || r->elements.size() != 2) {
      return ErrorAnswer(503, "SCAN: " + (r ? r->str : r.error().message));
    }
    cursor = r->elements[0].str;
    std::vector<std::string> to_measure;
    std::vector<std::size_t> where;
    for (const auto& k : r->elements[1].elements) {
      if (IsReservedKey(k.str)) continue;
      const auto idx = index.Index(Fnv1a64High32(k.str));
      if (!idx) continue;  // outside every listed range
      ++tally[*idx].keys;
      ++keys;
      if (stride > 0 && seen++ % stride == 0) {
        to_measure.push_back(k.str);
        where.push_back(*idx);
      }
    }
    auto sizes = MemoryUsage(*self, to_measure);
    if (!sizes) return ErrorAnswer(503, "MEMORY USAGE: " + sizes.error().message);
    for (std::size_t i = 0; i < where.size(); ++i) {
      ++tally[where[i]].sampled_keys;
      tally[where[i]].sampled_bytes += static_cast<std::uint64_t>((*sizes)[i]);
      ++sampled;
      sampled_bytes += static_cast<std::uint64_t>((*sizes)[i]);
    }
  } while (cursor != "0");
  const double mean = sampled > 0 ? static_cast<double>(sampled_bytes) / sampled : 0.0;
  Json out = Json::array();
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const auto& rb = ranges[i];
    out.push_back({{"id", rb.id},
                   {"start", rb.start},
                   {"end", rb.end},
                   {"keys", tally[i].keys},
                   {"bytes", EstimateBytes(tally[i], mean)},
                   {"sampledKeys", tally[i].sampled_keys}});
  }
  ans["keys"] = keys;
  ans["sampledKeys"] = sampled;
  ans["sampleStride"] = stride;
  ans["bytesExact"] = sampled == keys;
  ans["ranges"] = std::move(out);
  return {200, ans.dump()};
}

}  // namespace shardcast::agent
