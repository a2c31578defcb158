#include "operator/runtime/liveness.h"

#include <algorithm>
#include <chrono>

namespace shardcast::runtime {

int WorkerHeartbeats::AddWorker(std::string name) {
  std::lock_guard<std::mutex> lock(mu_);
  slots_.push_back(Slot{std::move(name), "", std::nullopt});
  return static_cast<int>(slots_.size()) - 1;
}

void WorkerHeartbeats::begin(int worker, std::string key) {
  const Clock::time_point now = clock_.now();
  std::lock_guard<std::mutex> lock(mu_);
  if (worker < 0 || static_cast<std::size_t>(worker) >= slots_.size()) return;
  slots_[static_cast<std::size_t>(worker)].key = std::move(key);
  slots_[static_cast<std::size_t>(worker)].busy_since = now;
}

void WorkerHeartbeats::end(int worker) {
  std::lock_guard<std::mutex> lock(mu_);
  if (worker < 0 || static_cast<std::size_t>(worker) >= slots_.size()) return;
  slots_[static_cast<std::size_t>(worker)].key.clear();
  slots_[static_cast<std::size_t>(worker)].busy_since.reset();
}

std::vector<StuckWorker> WorkerHeartbeats::stuck(Clock::duration limit) const {
  std::vector<StuckWorker> out;
  if (limit <= Clock::duration::zero()) return out;
  const Clock::time_point now = clock_.now();
  std::lock_guard<std::mutex> lock(mu_);
  for (const Slot& s : slots_) {
    if (!s.busy_since) continue;
    const Clock::duration busy = now - *s.busy_since;
    if (busy > limit) out.push_back(StuckWorker{s.name, s.key, busy});
  }
  std::sort(out.begin(), out.end(),
            [](const StuckWorker& a, const StuckWorker& b) { return a.busy_for > b.busy_for; });
  return out;
}

std::string DescribeStuck(const std::vector<StuckWorker>& stuck) {
  std::string out;
  for (const StuckWorker& w : stuck) {
    if (!out.empty()) out += "; ";
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(w.busy_for).count();
    out += "worker " + w.worker + " stuck " + std::to_string(secs) + "s on key " + w.key;
  }
  return out;
}

}  // namespace shardcast::runtime
