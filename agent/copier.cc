#include "agent/copier.h"

#include <spdlog/spdlog.h>

#include "agent/shard.h"

namespace shardcast::agent {

Copier::Copier(CopySpec spec, ConnFactory factory, const AgentMetrics* metrics, OnFinish on_finish)
    : spec_(std::move(spec)),
      factory_(std::move(factory)),
      metrics_(metrics),
      on_finish_(std::move(on_finish)) {}

Copier::~Copier() { Cancel(); }

void Copier::Start() {
  state_ = JobState::kCopying;
  thread_ = std::thread([this] { Run(); });
}

void Copier::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

double Copier::progress() const {
  return CopyProgress(state_.load(), scanned_.load(), db_size_.load());
}

std::string Copier::message() const {
  std::lock_guard<std::mutex> lock(mu_);
  return message_;
}

bool Copier::WaitFor(std::chrono::microseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return cancel_.load(); });
  return !cancel_.load();
}

void Copier::Finish(JobState s, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    message_ = message;
  }
  state_ = s;
  if (on_finish_) on_finish_(s, message);
}

Result<std::uint64_t> Copier::Pass(RedisConn& conn, TokenBucket& bucket) {
  std::string cursor = "0";
  std::uint64_t moved = 0;
  const auto kind = runtime::Labels{{"kind", spec_.kind}};
  do {
    auto page = ScanRange(conn, cursor, spec_.start, spec_.end, 1000);
    if (!page) return unexpected(page.error());
    scanned_ += page->scanned;
    for (std::size_t i = 0; i < page->keys.size(); i += spec_.batch) {
      if (cancel_) return moved;
      const auto last = std::min(page->keys.size(), i + static_cast<std::size_t>(spec_.batch));
      std::vector<std::string> batch(page->keys.begin() + i, page->keys.begin() + last);
      auto wait = bucket.Take(static_cast<double>(batch.size()), TokenBucket::Clock::now());
      if (wait.count() > 0 && !WaitFor(wait)) return moved;
      auto sized = PresentKeys(conn, std::move(batch));
      if (!sized) return unexpected(sized.error());
      const std::vector<std::string>& present = sized->keys;
      const std::int64_t bytes = sized->bytes;
      if (present.empty()) continue;
      auto m = Migrate(conn, spec_.to, present, spec_.copy, spec_.migrate_timeout_ms);
      if (!m) return unexpected(m.error());
      moved += present.size();
      moved_ += present.size();
      if (metrics_ != nullptr) {
        metrics_->keys_copied->with(kind)->inc(static_cast<double>(present.size()));
        metrics_->bytes_copied->with(kind)->inc(static_cast<double>(bytes));
        metrics_->copy_batches->with(kind)->inc();
      }
    }
    cursor = page->cursor;
  } while (cursor != "0" && !cancel_);
  return moved;
}

void Copier::Run() {
  TokenBucket bucket(spec_.rate, std::max(spec_.rate / 10.0, static_cast<double>(spec_.batch)));
  int errors = 0;
  int passes = 0;
  std::string last_error;
  while (!cancel_) {
    auto conn = factory_(spec_.from.host, spec_.from.port);
    Result<std::uint64_t> moved = conn ? Result<std::uint64_t>(0) : unexpected(conn.error());
    if (conn) {
      auto size = ExpectInt((*conn)->Command({"DBSIZE"}), "DBSIZE");
      if (size && passes == 0) db_size_ = static_cast<std::uint64_t>(*size);
      moved = size ? Pass(**conn, bucket) : Result<std::uint64_t>(unexpected(size.error()));
    }
    if (cancel_) return;
    if (!moved) {
      last_error = moved.error().message;
      spdlog::warn("copy {} {}->{}: {}", spec_.kind, spec_.from.text, spec_.to.text, last_error);
      if (++errors >= spec_.max_errors) return Finish(JobState::kFailed, last_error);
      if (!WaitFor(std::chrono::milliseconds(200 * errors))) return;
      continue;
    }
    errors = 0;
    ++passes;
    if (spec_.copy || *moved == 0) {
      return Finish(JobState::kDone, std::to_string(moved_.load()) + " keys");
    }
    if (passes >= 20) {
      return Finish(JobState::kFailed, "keys of the range keep appearing on " + spec_.from.text +
                                           " after 20 passes (is it marked migrating?)");
    }
  }
}

}  // namespace shardcast::agent
