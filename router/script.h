// The canonical shard script of docs/dataplane-protocol.md: every keyed
// client command runs through it, many commands per EVALSHA (router/batch.h
// encodes the call). A unit test keeps the ```lua block of that document
// equal to this text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shardcast::router {

inline constexpr std::string_view kShardScript = R"lua(local nr = tonumber(ARGV[1])
local marks = redis.call('MGET', unpack(KEYS, 1, nr))
local out, no, logs = {}, 0, nil
local run, nrun, rk, rpos, rr = nil, 0, {}, {}, {}
local OK = redis.status_reply('OK')
local function failed(res) return type(res) == 'table' and res.err ~= nil end
local function log(r, key)
  if logs == nil then
    logs = redis.call('EXISTS', unpack(KEYS, nr + 1, 2 * nr)) > 0 and {} or false
  end
  if not logs then return nil end
  if logs[r] == nil then logs[r] = redis.call('EXISTS', KEYS[nr + r]) == 1 end
  if not logs[r] then return nil end
  local res = redis.pcall('XADD', KEYS[nr + r], 'MAXLEN', '~', '100000', '*', 'k', key)
  if failed(res) then return res end
end
local function flush()
  if run == 'GET' then
    local v = redis.call('MGET', unpack(rk, 1, nrun))
    for j = 1, nrun do out[rpos[j]] = v[j] or redis.pcall('GET', rk[j]) end
  elseif run == 'SET' then
    local res = redis.pcall('MSET', unpack(rk, 1, 2 * nrun))
    for j = 1, nrun do
      out[rpos[j]] = failed(res) and res or log(rr[j], rk[2 * j - 1]) or OK
    end
  end
  run, nrun = nil, 0
end
local function check(m, fl, key)
  local asking, write, echo = fl % 2 == 1, fl % 4 >= 2, fl >= 4
  local kind, epoch, ep
  if m then kind, epoch, ep = string.match(m, '^(%S+) (%S+) (%S+)$') end
  if echo then
    if kind ~= 'echo' then return redis.error_reply('SHARDCAST NOTECHO') end
  elseif kind == 'gone' then
    return redis.error_reply('SHARDCAST MOVED ' .. epoch .. ' ' .. ep)
  elseif kind == 'echo' or kind == 'echo-stale' then
    if write then return redis.error_reply('SHARDCAST READONLY') end
  elseif kind == 'migrating' or kind == 'importing' then
    if redis.call('EXISTS', key) == 0 and (kind == 'migrating' or not asking) then
      return redis.error_reply('SHARDCAST ASK ' .. ep)
    end
  end
end
local i, n = 2, #ARGV
while i <= n do
  local h = tonumber(ARGV[i])
  local fl = h % 8
  local r = (h - fl) / 8 % 8192
  local argc = (h - fl - 8 * r) / 65536
  local m, name, key = marks[r], ARGV[i + 1], ARGV[i + 2]
  no = no + 1
  if not m and fl < 2 and argc == 2 and name == 'GET' then
    if run ~= 'GET' then flush() run = 'GET' end
    nrun = nrun + 1
    rk[nrun], rpos[nrun] = key, no
  elseif not m and (fl == 2 or fl == 3) and argc == 3 and name == 'SET' then
    if run ~= 'SET' then flush() run = 'SET' end
    nrun = nrun + 1
    rk[2 * nrun - 1], rk[2 * nrun], rpos[nrun], rr[nrun] = key, ARGV[i + 3], no, r
  else
    flush()
    local res = (m or fl >= 4) and check(m, fl, key)
    if not res then
      res = redis.pcall(unpack(ARGV, i + 1, i + argc))
      if fl % 4 >= 2 and not failed(res) then res = log(r, key) or res end
    end
    out[no] = res
  end
  i = i + argc + 1
end
flush()
return out
)lua";

// Key prefix reserved for Shardcast on the shards.
inline constexpr std::string_view kReservedPrefix = "__shardcast:";

// KEYS[1] and KEYS[2] of the script for range `id`.
inline std::string MarkerKey(std::uint32_t id) { return "__shardcast:range:" + std::to_string(id); }
inline std::string WriteLogKey(std::uint32_t id) {
  return "__shardcast:wlog:" + std::to_string(id);
}

}  // namespace shardcast::router
