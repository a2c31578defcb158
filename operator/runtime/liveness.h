// Worker heartbeats for liveness: a worker marks the start and the end of
// each unit of work; a health check asks which workers have been inside one
// unit for longer than a limit (a reconcile that hangs on a lock or a call
// without a deadline). Idle workers are never stuck.
//
//   WorkerHeartbeats beats(clock);
//   int w = beats.AddWorker("shardset/0");
//   beats.begin(w, key); Reconcile(key); beats.end(w);
//   if (auto stuck = beats.stuck(std::chrono::minutes(5)); !stuck.empty()) ...
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "operator/runtime/clock.h"

namespace shardcast::runtime {

struct StuckWorker {
  std::string worker;  // e.g. "shardset/0"
  std::string key;     // the work item it is busy with
  Clock::duration busy_for{};
};

class WorkerHeartbeats {
 public:
  explicit WorkerHeartbeats(const Clock& clock) : clock_(clock) {}

  // Registers a worker and returns its id (stable for the object's life).
  int AddWorker(std::string name);
  // The worker started working on `key` now.
  void begin(int worker, std::string key);
  // The worker finished its unit of work and is idle.
  void end(int worker);

  // Workers busy with one unit for longer than `limit`, longest first.
  // A zero or negative limit disables the check (always empty).
  std::vector<StuckWorker> stuck(Clock::duration limit) const;

 private:
  struct Slot {
    std::string name;
    std::string key;
    std::optional<Clock::time_point> busy_since;  // empty when idle
  };

  const Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
};

// One line for a /healthz body: "worker shardset/0 stuck 312s on key ns/name".
std::string DescribeStuck(const std::vector<StuckWorker>& stuck);

}  // namespace shardcast::runtime
