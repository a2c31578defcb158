// One event loop (one thread) of shardcast-router: accepts clients on the
// shared listen port (SO_REUSEPORT), keeps one pipelined connection per
// shard, and runs keyed commands through the per-key handoff.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/decisions.h"
#include "router/handoff.h"
#include "router/proxy/asio.h"
#include "router/proxy/backend.h"
#include "router/proxy/loads.h"
#include "router/proxy/metrics.h"
#include "router/resp.h"
#include "router/table.h"
#include "util/expected.h"

namespace shardcast::router::proxy {

struct ProxyOptions {
  RespLimits limits;
  std::size_t max_clients = 10000;
  std::size_t max_pipeline = 1024;  // requests of one client waiting for replies
  BackendOptions backend;
};

// State shared by every worker.
struct Shared {
  ProxyOptions options;
  TableHolder* holder = nullptr;
  // Re-reads the routing source now (after MOVED/READONLY); may be empty.
  std::function<void()> reload;
  ProxyMetrics* metrics = nullptr;
  std::string script_sha;
  std::atomic<std::size_t> clients{0};
  LoadFactorsHolder loads;  // pod -> published load factor (1 when absent)
};

// A mirrored read: the owner's and the target's replies, compared once both
// are in.
struct ShadowPair {
  RangeMetrics* metrics = nullptr;
  int arrived = 0;
  std::string replies[2];  // 0: owner, 1: target
  bool errors[2] = {false, false};
  void Arrive(int side, std::string_view bytes, bool error, double seconds);
};

// One keyed command on one key, through the handoff.
struct KeyOp {
  std::shared_ptr<ShadowPair> shadow;
  std::string key;
  std::string encoded_args;  // the command as RESP bulk strings (name upper case)
  std::size_t argc = 0;      // how many bulk strings encoded_args holds
  std::uint32_t hash = 0;
  std::uint32_t range_id = 0;
  bool write = false;
  Handoff handoff{{}, false};
  int noscript_retries = 0;
  std::size_t request_bytes = 0;
  std::chrono::steady_clock::time_point start;
  Session* session = nullptr;  // the client's; kept alive by `done`'s capture
  std::function<void(std::string_view reply, const ReplyInfo& info)> done;
};

class Worker {
 public:
  Worker(Shared& shared, int index);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds the listening socket (SO_REUSEPORT). Returns the bound port.
  [[nodiscard]] Result<std::uint16_t> Listen(const std::string& host, std::uint16_t port);
  void Run();
  void Stop();

  boost::asio::io_context& io() { return io_; }
  Shared& shared() { return shared_; }
  // The routing table in use (refreshed when the holder's version changes);
  // nullptr before the first document.
  const Table* CurrentTable();
  void Execute(std::shared_ptr<KeyOp> op);

 private:
  struct BackendEntry {
    std::shared_ptr<Backend> backend;
    std::shared_ptr<runtime::Gauge> outstanding;
  };
  void Accept();
  void Tick();
  BackendEntry& BackendFor(const std::string& endpoint);
  void SendAttempt(std::shared_ptr<KeyOp> op);
  void OnReply(const std::shared_ptr<KeyOp>& op, const Reply& reply);
  void Finish(const std::shared_ptr<KeyOp>& op, std::string_view bytes, const ReplyInfo& info);
  void FinishError(const std::shared_ptr<KeyOp>& op, const std::string& text);
  void Shadow(KeyOp& op, const Range& range);

  Shared& shared_;
  int index_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer tick_;
  std::unordered_map<std::string, BackendEntry> backends_;
  std::shared_ptr<const Table> table_;
  std::uint64_t table_version_ = ~0ull;
  std::set<std::string> disabled_echoes_;
  std::uint64_t read_sequence_ = 0;
  LoadFactors load_factors_;        // a copy of shared_.loads
  std::uint64_t load_refresh_ = 0;  // shared_.loads.version() of that copy
};

}  // namespace shardcast::router::proxy
