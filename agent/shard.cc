#include "agent/shard.h"

#include "agent/hash.h"

namespace shardcast::agent {
namespace {

// KEYS[1] fence, KEYS[2] marker (or the fence again); ARGV: token, op, value, px.
constexpr const char* kFenceScript = R"lua(
local f = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = tonumber(ARGV[1])
if t < f then return redis.error_reply('FENCED ' .. f) end
if t > f then redis.call('SET', KEYS[1], ARGV[1]) end
if ARGV[2] == 'set' then
  if tonumber(ARGV[4]) > 0 then
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  else
    redis.call('SET', KEYS[2], ARGV[3])
  end
elseif ARGV[2] == 'del' then
  redis.call('DEL', KEYS[2])
end
return f
)lua";

}  // namespace

Result<FenceResult> FencedMarkerWrite(RedisConn& conn, std::int64_t token,
                                      std::optional<std::uint32_t> marker_range,
                                      const std::string& value, std::int64_t px_ms) {
  const std::string op = !marker_range ? "check" : (value.empty() ? "del" : "set");
  const std::string marker = marker_range ? MarkerKey(*marker_range) : kFenceKey;
  auto r = conn.Command({"EVAL", kFenceScript, "2", kFenceKey, marker, std::to_string(token), op,
                         value, std::to_string(px_ms)});
  if (!r) return unexpected(r.error());
  FenceResult out;
  if (r->is_error()) {
    if (r->str.rfind("FENCED ", 0) == 0) {
      out.fenced = true;
      out.seen = std::stoll(r->str.substr(7));
      return out;
    }
    return unexpected(Error{"fence script: " + r->str});
  }
  out.seen = r->integer;
  return out;
}

Result<std::optional<Marker>> ReadMarker(RedisConn& conn, std::uint32_t range) {
  auto r = conn.Command({"GET", MarkerKey(range)});
  if (!r) return unexpected(r.error());
  if (r->is_error()) return unexpected(Error{"GET marker: " + r->str});
  if (r->is_nil()) return std::optional<Marker>{};
  auto m = ParseMarker(r->str);
  if (!m) return unexpected(m.error());
  return std::optional<Marker>{*m};
}

Result<ScanPage> ScanRange(RedisConn& conn, const std::string& cursor, std::uint32_t start,
                           std::uint32_t end, int count) {
  auto r = conn.Command({"SCAN", cursor, "COUNT", std::to_string(count)});
  if (!r) return unexpected(r.error());
  if (r->is_error()) return unexpected(Error{"SCAN: " + r->str});
  if (r->type != Reply::Type::kArray || r->elements.size() != 2) {
    return unexpected(Error{"SCAN: unexpected reply"});
  }
  ScanPage page;
  page.cursor = r->elements[0].str;
  page.scanned = r->elements[1].elements.size();
  for (auto& k : r->elements[1].elements) {
    if (KeyInRange(k.str, start, end)) page.keys.push_back(std::move(k.str));
  }
  return page;
}

Result<std::vector<std::int64_t>> MemoryUsage(RedisConn& conn,
                                              const std::vector<std::string>& keys) {
  std::vector<Argv> cmds;
  cmds.reserve(keys.size());
  for (const auto& k : keys) cmds.push_back({"MEMORY", "USAGE", k});
  auto r = conn.Pipeline(cmds);
  if (!r) return unexpected(r.error());
  std::vector<std::int64_t> out;
  out.reserve(keys.size());
  for (const auto& rep : *r) out.push_back(rep.type == Reply::Type::kInteger ? rep.integer : 0);
  return out;
}

Result<SizedKeys> PresentKeys(RedisConn& conn, std::vector<std::string> batch) {
  auto sizes = MemoryUsage(conn, batch);
  if (!sizes) return unexpected(sizes.error());
  SizedKeys out;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    if ((*sizes)[k] > 0) {
      out.keys.push_back(std::move(batch[k]));
      out.bytes += (*sizes)[k];
    }
  }
  return out;
}

Result<void> Migrate(RedisConn& conn, const Endpoint& to, const std::vector<std::string>& keys,
                     bool copy, int timeout_ms) {
  if (keys.empty()) return {};
  Argv argv = {"MIGRATE", to.host, std::to_string(to.port), "", "0", std::to_string(timeout_ms)};
  if (copy) argv.push_back("COPY");
  argv.push_back("REPLACE");
  argv.push_back("KEYS");
  argv.insert(argv.end(), keys.begin(), keys.end());
  auto r = conn.Command(argv);
  if (!r) return unexpected(r.error());
  if (r->is_error()) return unexpected(Error{"MIGRATE to " + to.text + ": " + r->str});
  return {};
}

Result<std::uint64_t> CountRangeKeys(RedisConn& conn, std::uint32_t start, std::uint32_t end) {
  std::string cursor = "0";
  std::uint64_t n = 0;
  do {
    auto page = ScanRange(conn, cursor, start, end, 1000);
    if (!page) return unexpected(page.error());
    n += page->keys.size();
    cursor = page->cursor;
  } while (cursor != "0");
  return n;
}

Result<std::uint64_t> DeleteRangeKeys(RedisConn& conn, std::uint32_t start, std::uint32_t end) {
  std::string cursor = "0";
  std::uint64_t n = 0;
  do {
    auto page = ScanRange(conn, cursor, start, end, 1000);
    if (!page) return unexpected(page.error());
    if (!page->keys.empty()) {
      Argv argv = {"UNLINK"};
      argv.insert(argv.end(), page->keys.begin(), page->keys.end());
      auto r = ExpectInt(conn.Command(argv), "UNLINK");
      if (!r) return unexpected(r.error());
      n += static_cast<std::uint64_t>(*r);
    }
    cursor = page->cursor;
  } while (cursor != "0");
  return n;
}

}  // namespace shardcast::agent
