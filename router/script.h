// The canonical per-key Lua script of docs/dataplane-protocol.md (every
// keyed client command runs through it with EVALSHA). A unit test keeps the
// ```lua block of that document equal to this text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shardcast::router {

inline constexpr std::string_view kShardScript = R"lua(local m = redis.call('GET', KEYS[1])
local flags = ARGV[1]
local asking = string.find(flags, 'a', 1, true) ~= nil
local write = string.find(flags, 'w', 1, true) ~= nil
local echo = string.find(flags, 'e', 1, true) ~= nil
local kind, epoch, ep
if m then kind, epoch, ep = string.match(m, '^(%S+) (%S+) (%S+)$') end
if echo then
  if kind ~= 'echo' then return redis.error_reply('SHARDCAST NOTECHO') end
elseif kind == 'gone' then
  return redis.error_reply('SHARDCAST MOVED ' .. epoch .. ' ' .. ep)
elseif kind == 'echo' or kind == 'echo-stale' then
  if write then return redis.error_reply('SHARDCAST READONLY') end
elseif kind == 'migrating' or kind == 'importing' then
  local present = 0
  for i = 3, #KEYS do present = present + redis.call('EXISTS', KEYS[i]) end
  if present > 0 and present < #KEYS - 2 then
    return redis.error_reply('SHARDCAST TRYAGAIN')
  end
  if present == 0 and (kind == 'migrating' or not asking) then
    return redis.error_reply('SHARDCAST ASK ' .. ep)
  end
end
local r = redis.pcall(unpack(ARGV, 2))
local failed = type(r) == 'table' and r.err ~= nil
if write and not failed and redis.call('EXISTS', KEYS[2]) == 1 then
  for i = 3, #KEYS do
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', '100000', '*', 'k', KEYS[i])
  end
end
return r
)lua";

// Key prefix reserved for Shardcast on the shards.
inline constexpr std::string_view kReservedPrefix = "__shardcast:";

// KEYS[1] and KEYS[2] of the script for range `id`.
inline std::string MarkerKey(std::uint32_t id) { return "__shardcast:range:" + std::to_string(id); }
inline std::string WriteLogKey(std::uint32_t id) {
  return "__shardcast:wlog:" + std::to_string(id);
}

}  // namespace shardcast::router
