// Keeps an echo (read copy) of one range in sync with its owner.
//
// The follower reads the owner's write log (__shardcast:wlog:<id>, one entry
// per written key, appended by the router's per-key script) with XREAD and
// refreshes each logged key from the owner: DUMP + PTTL there, RESTORE
// REPLACE here, or DEL when the key is gone. The echo marker is `echo` with
// a PX lease of the bound, refreshed on every loop while caught up; when the
// oldest unapplied entry is older than the bound (or the owner cannot be
// read) the marker becomes `echo-stale`. If the agent dies, the lease lapses
// within the bound and echo reads are refused NOTECHO.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "agent/metrics.h"
#include "agent/redis_conn.h"
#include "agent/request.h"

namespace shardcast::agent {

struct EchoSpec {
  std::uint32_t range = 0;
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  std::int64_t epoch = 0;
  Endpoint owner;
  Endpoint self;
  std::chrono::milliseconds bound{1000};
};

class EchoFollower {
 public:
  EchoFollower(EchoSpec spec, ConnFactory factory, const AgentMetrics* metrics);
  ~EchoFollower();
  EchoFollower(const EchoFollower&) = delete;
  EchoFollower& operator=(const EchoFollower&) = delete;

  // Fills the echo first (deletes its keys of the range, then MIGRATE COPY
  // REPLACE from the owner, following the log from the entry that was last
  // before the fill), then follows. The same refill runs when the log was
  // trimmed past the last applied entry.
  void Start();
  void Stop();  // joins; leaves the marker as it is
  bool in_sync() const { return in_sync_.load(); }
  // Whether the fill completed and the echo was caught up at least once.
  bool filled() const { return filled_.load(); }
  std::string last_error() const;
  double lag_seconds() const { return lag_ms_.load() / 1000.0; }
  const EchoSpec& spec() const { return spec_; }

 private:
  void Run();
  enum class RoundResult { kOk, kError, kGap };
  RoundResult Round(RedisConn& owner, RedisConn& self);
  Result<void> Refill(RedisConn& owner, RedisConn& self);
  bool Apply(RedisConn& owner, RedisConn& self, const std::vector<std::string>& keys);
  void SetMarker(RedisConn& self, bool fresh);

  EchoSpec spec_;
  ConnFactory factory_;
  const AgentMetrics* metrics_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> in_sync_{false};
  std::atomic<bool> filled_{false};
  bool need_refill_ = true;
  std::string error_;
  std::atomic<std::int64_t> lag_ms_{0};
  std::string last_id_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
};

// Milliseconds part of a stream id "1700000000000-3".
std::int64_t StreamIdMillis(const std::string& id);
// Whether stream id a < b.
bool StreamIdLess(const std::string& a, const std::string& b);

}  // namespace shardcast::agent
