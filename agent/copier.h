// A background job that moves (or copies) the keys of one hash range from
// one shard to another with MIGRATE ... KEYS in rate-limited batches.
//
// A move repeats full SCAN passes over the source until a pass finds no key
// of the range (the source is marked `migrating`, so no new key of the range
// appears there). A copy (echo fill) makes one pass with MIGRATE COPY. Both
// are idempotent: a restarted job scans again and moves what is left.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "agent/metrics.h"
#include "agent/redis_conn.h"
#include "agent/request.h"
#include "agent/rules.h"

namespace shardcast::agent {

struct CopySpec {
  std::string kind;  // metrics label: "move", "abort", "echo-fill"
  Endpoint from;     // the shard MIGRATE runs on
  Endpoint to;       // the destination
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  bool copy = false;  // MIGRATE COPY (keep the keys on `from`), one pass
  int batch = 100;
  double rate = 0;  // keys per second; <= 0 unlimited
  int migrate_timeout_ms = 5000;
  int max_errors = 10;  // consecutive failures before the job fails
};

class Copier {
 public:
  using OnFinish = std::function<void(JobState, const std::string& message)>;
  Copier(CopySpec spec, ConnFactory factory, const AgentMetrics* metrics, OnFinish on_finish);
  ~Copier();
  Copier(const Copier&) = delete;
  Copier& operator=(const Copier&) = delete;

  void Start();
  // Stops at the next batch and joins; the state stays as it was.
  void Cancel();

  JobState state() const { return state_.load(); }
  double progress() const;
  std::string message() const;
  std::uint64_t keys_moved() const { return moved_.load(); }

 private:
  void Run();
  // One full scan; returns keys moved, or an error.
  Result<std::uint64_t> Pass(RedisConn& conn, TokenBucket& bucket);
  bool WaitFor(std::chrono::microseconds d);  // false when cancelled
  void Finish(JobState s, const std::string& message);

  CopySpec spec_;
  ConnFactory factory_;
  const AgentMetrics* metrics_;
  OnFinish on_finish_;
  std::thread thread_;
  std::atomic<JobState> state_{JobState::kIdle};
  std::atomic<bool> cancel_{false};
  std::atomic<std::uint64_t> moved_{0};
  std::atomic<std::uint64_t> scanned_{0};
  std::atomic<std::uint64_t> db_size_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string message_;
};

}  // namespace shardcast::agent
