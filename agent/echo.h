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
  // Logged writes are applied at most this often (0: as soon as read).
  std::chrono::milliseconds pace{50};
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
  void Stop();  // Quiesce, then joins; leaves the marker as it is
  // Stops the follower's writes to this shard: when it returns, no further
  // write of the follower (keys, marker) reaches it, though the thread may
  // still be blocked reading the owner's log until Stop() joins it.
  void Quiesce();
  bool in_sync() const { return in_sync_.load(); }
  // Whether the fill completed and the echo was caught up at least once
  // since (false again while a refill runs).
  bool filled() const { return filled_.load(); }
  std::string last_error() const;
  double lag_seconds() const { return lag_ms_.load() / 1000.0; }
  // Waits until every owner log entry up to `id` is applied here (the fill
  // counts for the entries before it); false on timeout.
  bool WaitApplied(const std::string& id, std::chrono::milliseconds timeout);
  const EchoSpec& spec() const { return spec_; }

 private:
  void Run();
  enum class RoundResult { kOk, kError, kGap };
  RoundResult Round(RedisConn& owner, RedisConn& self);
  Result<void> Refill(RedisConn& owner, RedisConn& self);
  bool Apply(RedisConn& owner, RedisConn& self, const std::vector<std::string>& keys);
  // Writes `echo`/`echo-stale` only while the marker is absent or an echo
  // marker: once a move of the range to this pod has marked it `importing`
  // (a pre-warmed move), the follower keeps applying the log but leaves the
  // marker alone.
  void SetMarker(RedisConn& self, bool fresh);
  void SetApplied(const std::string& id);
  // After a round that applied entries, waits out the rest of the pace
  // (spec.pace from the round's start) so that a
  // trickle of writes is applied in batches (one log read, DUMP and RESTORE
  // pipeline, and marker renewal per batch rather than per write, and a key
  // written twice is refreshed once). WaitApplied cuts the wait short.
  void Pace(std::chrono::steady_clock::time_point round_start);

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
  std::size_t last_read_ = 0;                        // log entries the last round read
  std::chrono::steady_clock::time_point renewed_{};  // last `echo` lease renewal
  std::atomic<int> hurry_{0};                        // WaitApplied callers waiting
  std::string applied_;                              // last_id_ as other threads see it (under mu_)
  mutable std::mutex mu_;
  std::mutex write_mu_;  // held by every write to this shard; Quiesce takes it
  std::condition_variable cv_;
};

// Milliseconds part of a stream id "1700000000000-3".
std::int64_t StreamIdMillis(const std::string& id);
// Whether stream id a < b.
bool StreamIdLess(const std::string& a, const std::string& b);

}  // namespace shardcast::agent
