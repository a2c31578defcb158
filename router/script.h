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
local out, no, logs, run, nrun, rk, rpos, rr = {}, 0, nil, nil, 0, nil, nil, nil
local i, n = 2, #ARGV
while true do
  local fl, r, argc, m, name, key, want
  if i <= n then
    local h = tonumber(ARGV[i])
    fl = h % 8
    r = (h - fl) / 8 % 8192
    argc = (h - fl - 8 * r) / 65536
    m, name, key = marks[r], ARGV[i + 1], ARGV[i + 2]
    if m or (not run and i + argc >= n) then
      want = nil
    elseif fl < 2 and argc == 2 and name == 'GET' then
      want = 'GET'
    elseif (fl == 2 or fl == 3) and argc == 3 and name == 'SET' then
      want = 'SET'
    end
  end
  if run and (want ~= run or nrun == 256) then
    local res
    if nrun == 1 then
      res = {redis.pcall(run, unpack(rk, 1, run == 'GET' and 1 or 2))}
    elseif run == 'GET' then
      res = redis.call('MGET', unpack(rk, 1, nrun))
      for j = 1, nrun do res[j] = res[j] or redis.pcall('GET', rk[j]) end
    else
      local ok = redis.pcall('MSET', unpack(rk, 1, 2 * nrun))
      res = {}
      for j = 1, nrun do res[j] = ok end
    end
    for j = 1, nrun do
      local x = res[j]
      if run == 'SET' and not (type(x) == 'table' and x.err) then
        if logs == nil then
          logs = redis.call('EXISTS', unpack(KEYS, nr + 1, 2 * nr)) > 0 and {} or false
        end
        if logs then
          local lr = rr[j]
          if logs[lr] == nil then logs[lr] = redis.call('EXISTS', KEYS[nr + lr]) == 1 end
          if logs[lr] then
            local e = redis.pcall('XADD', KEYS[nr + lr], 'MAXLEN', '~', '100000', '*', 'k',
                                  rk[2 * j - 1])
            if type(e) == 'table' and e.err then x = e end
          end
        end
      end
      out[rpos[j]] = x
    end
    run, nrun = nil, 0
  end
  if i > n then break end
  no = no + 1
  if want then
    if not rk then rk, rpos, rr = {}, {}, {} end
    run, nrun = want, nrun + 1
    if want == 'GET' then
      rk[nrun] = key
    else
      rk[2 * nrun - 1], rk[2 * nrun], rr[nrun] = key, ARGV[i + 3], r
    end
    rpos[nrun] = no
  else
    local res
    if m or fl >= 4 then
      local asking, write, echo = fl % 2 == 1, fl % 4 >= 2, fl >= 4
      local kind, epoch, ep
      if m then kind, epoch, ep = string.match(m, '^(%S+) (%S+) (%S+)$') end
      if echo then
        if kind ~= 'echo' then res = redis.error_reply('SHARDCAST NOTECHO') end
      elseif kind == 'gone' then
        res = redis.error_reply('SHARDCAST MOVED ' .. epoch .. ' ' .. ep)
      elseif kind == 'echo' or kind == 'echo-stale' then
        if write then res = redis.error_reply('SHARDCAST READONLY') end
      elseif kind == 'frozen' then
        if write then res = redis.error_reply('SHARDCAST TRYAGAIN') end
      elseif kind == 'migrating' or kind == 'importing' then
        if redis.call('EXISTS', key) == 0 and (kind == 'migrating' or not asking) then
          res = redis.error_reply('SHARDCAST ASK ' .. ep)
        end
      end
    end
    if not res then
      res = redis.pcall(unpack(ARGV, i + 1, i + argc))
      if fl % 4 >= 2 and not (type(res) == 'table' and res.err) then
        if logs == nil then
          logs = redis.call('EXISTS', unpack(KEYS, nr + 1, 2 * nr)) > 0 and {} or false
        end
        if logs then
          if logs[r] == nil then logs[r] = redis.call('EXISTS', KEYS[nr + r]) == 1 end
          if logs[r] then
            local e = redis.pcall('XADD', KEYS[nr + r], 'MAXLEN', '~', '100000', '*', 'k', key)
            if type(e) == 'table' and e.err then res = e end
          end
        end
      end
    end
    out[no] = res
  end
  i = i + argc + 1
end
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
