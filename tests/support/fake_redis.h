// A fake of the agent's RedisConn for unit tests: an in-memory keyspace per
// endpoint with the handful of commands the agent's hook path uses (strings,
// hashes, lists, SCAN over strings) and the agent's fence script emulated by
// recognising it. Not a Redis: MIGRATE, streams and other scripts answer an
// error.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/redis_conn.h"

namespace shardcast::testsupport {

struct FakeShard {
  std::mutex mu;
  std::map<std::string, std::string> strings;
  std::map<std::string, std::map<std::string, std::string>> hashes;
  std::map<std::string, std::vector<std::string>> lists;
};

class FakeRedisConn final : public agent::RedisConn {
 public:
  explicit FakeRedisConn(std::shared_ptr<FakeShard> shard) : shard_(std::move(shard)) {}

  Result<agent::Reply> Command(const agent::Argv& a) override {
    using R = agent::Reply;
    std::lock_guard<std::mutex> lock(shard_->mu);
    auto& s = *shard_;
    const std::string& c = a[0];
    if (c == "PING") return R::Status("PONG");
    if (c == "GET") {
      auto it = s.strings.find(a[1]);
      return it == s.strings.end() ? R::Nil() : R::Str(it->second);
    }
    if (c == "SET") {
      s.strings[a[1]] = a[2];
      return R::Status("OK");
    }
    if (c == "DEL") return R::Int(static_cast<std::int64_t>(s.strings.erase(a[1])));
    if (c == "HGET") {
      auto& h = s.hashes[a[1]];
      auto it = h.find(a[2]);
      return it == h.end() ? R::Nil() : R::Str(it->second);
    }
    if (c == "HSET") {
      s.hashes[a[1]][a[2]] = a[3];
      return R::Int(1);
    }
    if (c == "HDEL") return R::Int(static_cast<std::int64_t>(s.hashes[a[1]].erase(a[2])));
    if (c == "HGETALL") {
      std::vector<R> out;
      for (const auto& [k, v] : s.hashes[a[1]]) {
        out.push_back(R::Str(k));
        out.push_back(R::Str(v));
      }
      return R::Array(out);
    }
    if (c == "RPUSH") {
      s.lists[a[1]].push_back(a[2]);
      return R::Int(static_cast<std::int64_t>(s.lists[a[1]].size()));
    }
    if (c == "LLEN") return R::Int(static_cast<std::int64_t>(s.lists[a[1]].size()));
    if (c == "LPOP") {
      auto& l = s.lists[a[1]];
      if (l.empty()) return R::Nil();
      std::string v = l.front();
      l.erase(l.begin());
      return R::Str(v);
    }
    if (c == "EVAL" && a[1].find("FENCED") != std::string::npos && a[2] == "2") {
      return Fence(a);
    }
    return R::Err("ERR fake: unsupported command " + c);
  }

  Result<std::vector<agent::Reply>> Pipeline(const std::vector<agent::Argv>& cmds) override {
    std::vector<agent::Reply> out;
    for (const auto& c : cmds) out.push_back(*Command(c));
    return out;
  }

 private:
  // KEYS fence, marker; ARGV token, op, value, px (see agent/shard.cc).
  agent::Reply Fence(const agent::Argv& a) {
    using R = agent::Reply;
    auto& s = *shard_;
    const std::int64_t seen = s.strings.contains(a[3]) ? std::stoll(s.strings[a[3]]) : 0;
    const std::int64_t token = std::stoll(a[5]);
    if (token < seen) return R::Err("FENCED " + std::to_string(seen));
    if (token > seen) s.strings[a[3]] = a[5];
    if (a[6] == "set") s.strings[a[4]] = a[7];
    if (a[6] == "del") s.strings.erase(a[4]);
    return R::Int(seen);
  }

  std::shared_ptr<FakeShard> shard_;
};

// A ConnFactory over fake shards, one per "host:port".
class FakeCluster {
 public:
  std::shared_ptr<FakeShard> Shard(const std::string& ep) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& s = shards_[ep];
    if (!s) s = std::make_shared<FakeShard>();
    return s;
  }
  agent::ConnFactory Factory() {
    return [this](const std::string& host, int port) -> Result<std::unique_ptr<agent::RedisConn>> {
      return std::unique_ptr<agent::RedisConn>(
          new FakeRedisConn(Shard(host + ":" + std::to_string(port))));
    };
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FakeShard>> shards_;
};

}  // namespace shardcast::testsupport
