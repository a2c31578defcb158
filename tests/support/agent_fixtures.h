// Fixtures of the agent's data-plane tests (tests/agent/): range 7 over
// half of the hash space, hook bodies, key listings and contents, and a
// writer that checks every acknowledged write through the protocol's script.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/hash.h"
#include "tests/support/dataplane_client.h"
#include "tests/support/processes.h"

namespace shardcast::testsupport::agentfix {

using Json = nlohmann::json;
constexpr std::uint32_t kRange = 7;
constexpr std::uint32_t kStart = 0;
constexpr std::uint32_t kEnd = 2147483647u;  // half of the hash space

inline bool InRange(const std::string& k) { return agent::KeyInRange(k, kStart, kEnd); }

inline std::string Body(const std::string& action, const RedisServer& src, const RedisServer& dst,
                        std::int64_t token, std::int64_t epoch = 3) {
  return Json{{"shardSet", "kv"},
              {"action", action},
              {"range", kRange},
              {"start", kStart},
              {"end", kEnd},
              {"source", "kv-0"},
              {"target", "kv-1"},
              {"sourceEndpoint", src.endpoint()},
              {"targetEndpoint", dst.endpoint()},
              {"epoch", epoch},
              {"fencingToken", token}}
      .dump();
}

inline std::string State(const AgentProcess& a, const std::string& action) {
  auto r = a.Get("/shardcast/progress?action=" + action + "&range=7");
  auto j = Json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("state", "") : "";
}

inline std::set<std::string> ClientKeys(RedisClient& c) {
  std::set<std::string> out;
  std::string cursor = "0";
  do {
    auto r = c.Cmd({"SCAN", cursor, "COUNT", "1000"});
    cursor = r.elements[0].str;
    for (auto& k : r.elements[1].elements) {
      if (!agent::IsReservedKey(k.str)) out.insert(k.str);
    }
  } while (cursor != "0");
  return out;
}

// Writes one key per type (string, hash, list, set, zset), a third with TTLs.
inline void Populate(RedisClient& c, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string k = "k:" + std::to_string(i);
    switch (i % 5) {
      case 0:
        c.Cmd({"SET", k, "v" + std::to_string(i)});
        break;
      case 1:
        c.Cmd({"HSET", k, "f", std::to_string(i), "g", "x"});
        break;
      case 2:
        c.Cmd({"RPUSH", k, "a", "b", std::to_string(i)});
        break;
      case 3:
        c.Cmd({"SADD", k, "m1", "m2", std::to_string(i)});
        break;
      default:
        c.Cmd({"ZADD", k, "1", "a", std::to_string(i), "b"});
    }
    if (i % 3 == 0) c.Cmd({"PEXPIRE", k, "600000"});
  }
}

// A dump of a key's content independent of its encoding.
inline std::string Content(RedisClient& c, const std::string& k) {
  const std::string type = c.Cmd({"TYPE", k}).str;
  std::string out = type + ":";
  RedisClient::Rep r;
  if (type == "string") r = c.Cmd({"GET", k});
  if (type == "hash") r = c.Cmd({"HGETALL", k});
  if (type == "list") r = c.Cmd({"LRANGE", k, "0", "-1"});
  if (type == "set") r = c.Cmd({"SORT", k, "ALPHA"});
  if (type == "zset") r = c.Cmd({"ZRANGE", k, "0", "-1", "WITHSCORES"});
  out += r.str;
  for (auto& e : r.elements) out += e.str + ",";
  return out;
}

// Writes sequence numbers to its keys through the Lua script and reads each
// back; counts acknowledged writes and reads that did not return the last
// acknowledged value.
class SeqWriter {
 public:
  SeqWriter(int owner_port, std::vector<std::string> keys)
      : client_(kRange, owner_port), keys_(std::move(keys)), acked_(keys_.size(), 0) {}
  void Start() {
    thread_ = std::thread([this] {
      for (std::int64_t seq = 1; !stop_; ++seq) {
        const std::size_t i = static_cast<std::size_t>(seq) % keys_.size();
        auto w = client_.Run("w", {"SET", keys_[i], std::to_string(seq)});
        if (w.err()) {
          ++errors_;
          last_error_ = w.str;
          continue;
        }
        acked_[i] = seq;
        ++writes_;
        auto r = client_.Run("", {"GET", keys_[i]});
        if (r.err() || r.str != std::to_string(seq)) {
          ++bad_reads_;
          last_error_ = "read " + keys_[i] + " -> " + r.str;
        }
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~SeqWriter() { Stop(); }
  std::int64_t writes() const { return writes_.load(); }
  int errors() const { return errors_.load(); }
  int bad_reads() const { return bad_reads_.load(); }
  std::string last_error() const { return last_error_; }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<std::int64_t>& acked() const { return acked_; }

 private:
  DataplaneClient client_;
  std::vector<std::string> keys_;
  std::vector<std::int64_t> acked_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> writes_{0};
  std::atomic<int> errors_{0};
  std::atomic<int> bad_reads_{0};
  std::string last_error_;
};

inline std::vector<std::string> RangeKeys(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; static_cast<int>(out.size()) < n; ++i) {
    const std::string k = prefix + std::to_string(i);
    if (InRange(k)) out.push_back(k);
  }
  return out;
}

// The writer saw no error and no stale read, and every write it had
// acknowledged is on `owner`.
inline void ExpectEveryAckedWriteOn(const SeqWriter& writer, RedisClient& owner) {
  EXPECT_EQ(writer.errors(), 0) << writer.last_error();
  EXPECT_EQ(writer.bad_reads(), 0) << writer.last_error();
  for (std::size_t i = 0; i < writer.keys().size(); ++i) {
    if (writer.acked()[i] == 0) continue;
    EXPECT_EQ(owner.Cmd({"GET", writer.keys()[i]}).str, std::to_string(writer.acked()[i]))
        << writer.keys()[i];
  }
}

}  // namespace shardcast::testsupport::agentfix
