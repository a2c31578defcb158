// Builders of routing documents for the router tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "router/document.h"

namespace shardcast::router::testing {

// `n` even ranges owned round-robin by kv-0..kv-(pods-1) at 127.0.0.1:<port0+pod>.
inline Document EvenDocument(std::uint32_t n, int pods, std::uint64_t epoch, int port0 = 7000) {
  Document d;
  d.shard_set = "kv";
  d.epoch = epoch;
  d.ranges = EvenRanges(n);
  for (auto& r : d.ranges) {
    int pod = static_cast<int>(r.id) % pods;
    r.owner = "kv-" + std::to_string(pod);
    r.endpoint = "127.0.0.1:" + std::to_string(port0 + pod);
  }
  return d;
}

inline nlohmann::json EvenJson(std::uint32_t n, int pods, std::uint64_t epoch) {
  return DocumentToJson(EvenDocument(n, pods, epoch));
}

}  // namespace shardcast::router::testing
