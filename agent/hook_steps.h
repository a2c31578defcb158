// Pieces of the hook steps shared by the move, echo and pre-warmed move
// steps (agent/hooks.cc, agent/prewarm.cc). Called with the agent's lock held.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/http.h"
#include "agent/redis_conn.h"
#include "agent/request.h"
#include "agent/rules.h"
#include "util/expected.h"

namespace shardcast::agent::steps {

// "\"<marker>\"" or "absent", for messages.
std::string Describe(const std::optional<Marker>& m);
// Writes a marker on `conn` under the request's fence ("" deletes it); an
// error answer (503 unreachable, 409 fenced) naming `where`.
std::optional<HttpAnswer> Mark(RedisConn& conn, const HookRequest& r, const std::string& value,
                               const std::string& where);
std::string Value(MarkerKind k, std::int64_t epoch, const std::string& ep);
// On the owner, in one fenced script: adds the request's target to (or
// removes it from) the range's echo set, creating the write log on add and
// deleting it when the set becomes empty. The echoes left, or an answer.
Expected<std::int64_t, HttpAnswer> RegisterEcho(RedisConn& owner, const HookRequest& r, bool add);
// Deletes the persisted echo-add jobs of `range`, so a restart does not
// resume its follower.
void ForgetEchoJobs(RedisConn& self, std::uint32_t range);
// Deletes the range's write log and echo set on the source of a move. From
// the move on, writes reach the target too, so the log no longer carries
// every write: the range's echoes find it gone and mark themselves
// `echo-stale` (echo reads refused NOTECHO) rather than serve data that no
// longer follows the owner. An error answer when the source cannot be told.
std::optional<HttpAnswer> DropWriteLog(RedisConn& source, const HookRequest& r);

}  // namespace shardcast::agent::steps
