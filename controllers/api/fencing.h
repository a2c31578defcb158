// The fencing token stamped on what the operator writes (the routing
// ConfigMap's annotation, MigrationPolicy status.fencingToken, every hook
// body). A writer refuses to overwrite a larger token, and the shard agent
// refuses a token lower than one it has seen.
//
// Tokens never go backwards: the manager's token (the Lease's transition
// count + 1, or 1 without leader election) starts again at 1 when the Lease
// is re-created or the operator runs without leader election. So at the
// start of each term (each time the manager's token changes) the executor
// takes TermToken(manager token, highest token recorded on the objects it
// writes): one more than any token ever recorded, which a deposed leader's
// token can never exceed.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

#include "controllers/api/resources.h"

namespace shardcast::api {

// The token in metadata.annotations[shardcast.dev/fencing-token]; 0 when
// absent or not a number.
inline uint64_t FencingTokenOf(const kube::Json& obj) {
  if (!obj.is_object()) return 0;
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return 0;
  auto ann = md->find("annotations");
  if (ann == md->end() || !ann->is_object()) return 0;
  auto it = ann->find(kAnnotationFencing);
  if (it == ann->end() || !it->is_string()) return 0;
  const std::string& s = it->get_ref<const std::string&>();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return 0;
  return v;
}

// status.fencingToken (MigrationPolicy); 0 when absent or not a number.
inline uint64_t StatusFencingTokenOf(const kube::Json& obj) {
  if (!obj.is_object()) return 0;
  auto st = obj.find("status");
  if (st == obj.end() || !st->is_object()) return 0;
  auto t = st->find("fencingToken");
  if (t == st->end() || !t->is_number_integer() || t->get<int64_t>() < 0) return 0;
  return t->get<uint64_t>();
}

// The highest token recorded on `objects` (annotation or status field).
inline uint64_t HighestFencingToken(const std::vector<kube::Json>& objects) {
  uint64_t h = 0;
  for (const auto& o : objects) h = std::max({h, FencingTokenOf(o), StatusFencingTokenOf(o)});
  return h;
}

// The token of a new term: never below the manager's, always above every
// recorded one.
inline uint64_t TermToken(uint64_t manager_token, uint64_t highest_recorded) {
  return std::max(manager_token, highest_recorded + 1);
}

}  // namespace shardcast::api
