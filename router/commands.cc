#include "router/commands.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace shardcast::router {
namespace {

constexpr std::string_view kAcross = "spans every shard; the router cannot answer it correctly";
constexpr std::string_view kTx = "transactions may span ranges; the router does not support them";
constexpr std::string_view kPubSub = "Pub/Sub is not routed by shardcast-router";
constexpr std::string_view kBlocking = "blocking commands are not supported by shardcast-router";
constexpr std::string_view kScript = "scripts from clients are not supported by shardcast-router";
constexpr std::string_view kMultiRange = "commands over several keys may span ranges";
constexpr std::string_view kAdmin = "administrative commands go to the shards directly";

using K = CommandKind;

#define R(n, k, w, a) \
  CommandInfo {       \
    n, K::k, w, a, {} \
  }
#define X(n, why) \
  CommandInfo { n, K::kRefused, false, 1, why }

// Sorted by name (checked at first use).
constexpr CommandInfo kCommands[] = {
    R("APPEND", kSingleKey, true, 3),
    X("BGREWRITEAOF", kAdmin),
    X("BGSAVE", kAdmin),
    R("BITCOUNT", kSingleKey, false, 2),
    X("BITOP", kMultiRange),
    R("BITPOS", kSingleKey, false, 3),
    X("BLMOVE", kBlocking),
    X("BLMPOP", kBlocking),
    X("BLPOP", kBlocking),
    X("BRPOP", kBlocking),
    X("BRPOPLPUSH", kBlocking),
    X("BZMPOP", kBlocking),
    X("BZPOPMAX", kBlocking),
    X("BZPOPMIN", kBlocking),
    R("CLIENT", kLocal, false, 2),
    R("COMMAND", kLocal, false, 1),
    X("CONFIG", kAdmin),
    X("COPY", kMultiRange),
    X("DBSIZE", kAcross),
    R("DECR", kSingleKey, true, 2),
    R("DECRBY", kSingleKey, true, 3),
    R("DEL", kMultiKey, true, 2),
    X("DISCARD", kTx),
    R("ECHO", kLocal, false, 2),
    X("EVAL", kScript),
    X("EVALSHA", kScript),
    X("EVALSHA_RO", kScript),
    X("EVAL_RO", kScript),
    X("EXEC", kTx),
    R("EXISTS", kMultiKey, false, 2),
    R("EXPIRE", kSingleKey, true, 3),
    R("EXPIREAT", kSingleKey, true, 3),
    R("EXPIRETIME", kSingleKey, false, 2),
    X("FCALL", kScript),
    X("FLUSHALL", kAcross),
    X("FLUSHDB", kAcross),
    R("GET", kSingleKey, false, 2),
    R("GETBIT", kSingleKey, false, 3),
    R("GETDEL", kSingleKey, true, 2),
    R("GETEX", kSingleKey, true, 2),
    R("GETRANGE", kSingleKey, false, 4),
    R("GETSET", kSingleKey, true, 3),
    R("HDEL", kSingleKey, true, 3),
    R("HELLO", kLocal, false, 1),
    R("HEXISTS", kSingleKey, false, 3),
    R("HGET", kSingleKey, false, 3),
    R("HGETALL", kSingleKey, false, 2),
    R("HINCRBY", kSingleKey, true, 4),
    R("HINCRBYFLOAT", kSingleKey, true, 4),
    R("HKEYS", kSingleKey, false, 2),
    R("HLEN", kSingleKey, false, 2),
    R("HMGET", kSingleKey, false, 3),
    R("HMSET", kSingleKey, true, 4),
    R("HRANDFIELD", kSingleKey, false, 2),
    R("HSCAN", kSingleKey, false, 3),
    R("HSET", kSingleKey, true, 4),
    R("HSETNX", kSingleKey, true, 4),
    R("HSTRLEN", kSingleKey, false, 3),
    R("HVALS", kSingleKey, false, 2),
    R("INCR", kSingleKey, true, 2),
    R("INCRBY", kSingleKey, true, 3),
    R("INCRBYFLOAT", kSingleKey, true, 3),
    R("INFO", kLocal, false, 1),
    X("KEYS", kAcross),
    R("LINDEX", kSingleKey, false, 3),
    R("LINSERT", kSingleKey, true, 5),
    R("LLEN", kSingleKey, false, 2),
    X("LMOVE", kMultiRange),
    X("LMPOP", kMultiRange),
    R("LPOP", kSingleKey, true, 2),
    R("LPOS", kSingleKey, false, 3),
    R("LPUSH", kSingleKey, true, 3),
    R("LPUSHX", kSingleKey, true, 3),
    R("LRANGE", kSingleKey, false, 4),
    R("LREM", kSingleKey, true, 4),
    R("LSET", kSingleKey, true, 4),
    R("LTRIM", kSingleKey, true, 4),
    R("MGET", kMultiKey, false, 2),
    X("MIGRATE", kAdmin),
    X("MONITOR", kAdmin),
    X("MOVE", kAdmin),
    R("MSET", kMset, true, 3),
    X("MSETNX", kMultiRange),
    X("MULTI", kTx),
    R("PERSIST", kSingleKey, true, 2),
    R("PEXPIRE", kSingleKey, true, 3),
    R("PEXPIREAT", kSingleKey, true, 3),
    R("PEXPIRETIME", kSingleKey, false, 2),
    R("PFADD", kSingleKey, true, 2),
    R("PING", kLocal, false, 1),
    R("PSETEX", kSingleKey, true, 4),
    X("PSUBSCRIBE", kPubSub),
    R("PTTL", kSingleKey, false, 2),
    X("PUBLISH", kPubSub),
    X("PUBSUB", kPubSub),
    X("PUNSUBSCRIBE", kPubSub),
    R("QUIT", kLocal, false, 1),
    X("RANDOMKEY", kAcross),
    X("RENAME", kMultiRange),
    X("RENAMENX", kMultiRange),
    R("RESET", kLocal, false, 1),
    R("RPOP", kSingleKey, true, 2),
    X("RPOPLPUSH", kMultiRange),
    R("RPUSH", kSingleKey, true, 3),
    R("RPUSHX", kSingleKey, true, 3),
    R("SADD", kSingleKey, true, 3),
    X("SAVE", kAdmin),
    X("SCAN", kAcross),
    R("SCARD", kSingleKey, false, 2),
    X("SCRIPT", kScript),
    X("SDIFF", kMultiRange),
    X("SDIFFSTORE", kMultiRange),
    R("SELECT", kLocal, false, 2),
    R("SET", kSingleKey, true, 3),
    R("SETBIT", kSingleKey, true, 4),
    R("SETEX", kSingleKey, true, 4),
    R("SETNX", kSingleKey, true, 3),
    R("SETRANGE", kSingleKey, true, 4),
    X("SHUTDOWN", kAdmin),
    X("SINTER", kMultiRange),
    X("SINTERCARD", kMultiRange),
    X("SINTERSTORE", kMultiRange),
    R("SISMEMBER", kSingleKey, false, 3),
    R("SMEMBERS", kSingleKey, false, 2),
    R("SMISMEMBER", kSingleKey, false, 3),
    X("SMOVE", kMultiRange),
    X("SORT", kMultiRange),
    R("SPOP", kSingleKey, true, 2),
    R("SRANDMEMBER", kSingleKey, false, 2),
    R("SREM", kSingleKey, true, 3),
    R("SSCAN", kSingleKey, false, 3),
    R("STRLEN", kSingleKey, false, 2),
    X("SUBSCRIBE", kPubSub),
    X("SUNION", kMultiRange),
    X("SUNIONSTORE", kMultiRange),
    X("SWAPDB", kAdmin),
    R("TOUCH", kMultiKey, false, 2),
    R("TTL", kSingleKey, false, 2),
    R("TYPE", kSingleKey, false, 2),
    R("UNLINK", kMultiKey, true, 2),
    X("UNSUBSCRIBE", kPubSub),
    X("UNWATCH", kTx),
    X("WAIT", kAdmin),
    X("WATCH", kTx),
    X("XREAD", kBlocking),
    X("XREADGROUP", kBlocking),
    R("ZADD", kSingleKey, true, 4),
    R("ZCARD", kSingleKey, false, 2),
    R("ZCOUNT", kSingleKey, false, 4),
    X("ZDIFF", kMultiRange),
    X("ZDIFFSTORE", kMultiRange),
    R("ZINCRBY", kSingleKey, true, 4),
    X("ZINTER", kMultiRange),
    X("ZINTERSTORE", kMultiRange),
    R("ZLEXCOUNT", kSingleKey, false, 4),
    X("ZMPOP", kMultiRange),
    R("ZMSCORE", kSingleKey, false, 3),
    R("ZPOPMAX", kSingleKey, true, 2),
    R("ZPOPMIN", kSingleKey, true, 2),
    R("ZRANDMEMBER", kSingleKey, false, 2),
    R("ZRANGE", kSingleKey, false, 4),
    R("ZRANGEBYLEX", kSingleKey, false, 4),
    R("ZRANGEBYSCORE", kSingleKey, false, 4),
    X("ZRANGESTORE", kMultiRange),
    R("ZRANK", kSingleKey, false, 3),
    R("ZREM", kSingleKey, true, 3),
    R("ZREMRANGEBYLEX", kSingleKey, true, 4),
    R("ZREMRANGEBYRANK", kSingleKey, true, 4),
    R("ZREMRANGEBYSCORE", kSingleKey, true, 4),
    R("ZREVRANGE", kSingleKey, false, 4),
    R("ZREVRANGEBYSCORE", kSingleKey, false, 4),
    R("ZREVRANK", kSingleKey, false, 3),
    R("ZSCAN", kSingleKey, false, 3),
    R("ZSCORE", kSingleKey, false, 3),
    X("ZUNION", kMultiRange),
    X("ZUNIONSTORE", kMultiRange),
};

#undef R
#undef X

}  // namespace

const CommandInfo* LookupCommand(std::string_view name) {
  if (name.empty() || name.size() > 24) return nullptr;
  char buf[24];
  for (std::size_t i = 0; i < name.size(); ++i) {
    buf[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[i])));
  }
  std::string_view upper(buf, name.size());
  auto begin = std::begin(kCommands);
  auto end = std::end(kCommands);
  auto it = std::lower_bound(begin, end, upper,
                             [](const CommandInfo& c, std::string_view n) { return c.name < n; });
  if (it == end || it->name != upper) return nullptr;
  return &*it;
}

bool CommandTableIsSorted() {
  return std::is_sorted(
             std::begin(kCommands), std::end(kCommands),
             [](const CommandInfo& a, const CommandInfo& b) { return a.name < b.name; }) &&
         std::adjacent_find(std::begin(kCommands), std::end(kCommands),
                            [](const CommandInfo& a, const CommandInfo& b) {
                              return a.name == b.name;
                            }) == std::end(kCommands);
}

}  // namespace shardcast::router
