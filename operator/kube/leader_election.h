// Lease-based leader election (coordination.k8s.io/v1) with client-go's
// timings, plus a fencing token. A Lease alone does not guarantee a single
// actor (a paused leader may wake after losing it), so write paths check
// `StillLeading(token)` and stamp the token into what they write.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "operator/kube/client.h"

namespace shardcast::kube {

struct LeaderElectionConfig {
  std::string lease_namespace = "default";
  std::string lease_name = "shardcast-operator";
  std::string identity;
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  double jitter_factor = 1.2;  // retries wait retry_period * [1, 1+jitter)
  bool release_on_stop = true;
};

class LeaderElector {
 public:
  using StartedFn = std::function<void(uint64_t fencing_token)>;
  using StoppedFn = std::function<void()>;

  LeaderElector(std::shared_ptr<Client> client, LeaderElectionConfig config);
  ~LeaderElector();

  // Runs the election loop on a thread until stop().
  void start(StartedFn on_started, StoppedFn on_stopped);
  // Steps down: stops renewing and, if configured, releases the Lease so a
  // successor need not wait out the lease. Safe to call from a signal-driven
  // shutdown path (not from a signal handler itself).
  void stop();

  bool is_leader() const { return leader_.load(); }
  // 0 when not leading; otherwise the Lease's transition count + 1, which
  // grows every time leadership changes hands.
  uint64_t fencing_token() const { return leader_.load() ? token_.load() : 0; }
  // True only while we lead with `token` and our last successful renewal is
  // younger than the renew deadline.
  bool StillLeading(uint64_t token) const;
  const std::string& identity() const { return config_.identity; }

 private:
  enum class Attempt { kLeading, kHeldByOther, kError };
  void run();
  Attempt TryAcquireOrRenew();
  void release();
  bool wait(std::chrono::milliseconds d);
  std::chrono::milliseconds Jittered() const;

  std::shared_ptr<Client> client_;
  LeaderElectionConfig config_;
  StartedFn on_started_;
  StoppedFn on_stopped_;

  std::atomic<bool> leader_{false};
  std::atomic<uint64_t> token_{0};
  std::atomic<int64_t> last_renew_ns_{0};  // steady clock
  std::atomic<bool> stopping_{false};

  // What we last saw of another holder, on our own clock (client-go's
  // approach: never compare the remote timestamp to our clock).
  std::string observed_record_;
  std::chrono::steady_clock::time_point observed_time_{};

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace shardcast::kube
