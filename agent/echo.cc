#include "agent/echo.h"

#include <spdlog/spdlog.h>

#include <set>

#include "agent/hash.h"
#include "agent/rules.h"
#include "agent/shard.h"

namespace shardcast::agent {
namespace {

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::pair<std::int64_t, std::int64_t> SplitId(const std::string& id) {
  const auto dash = id.find('-');
  try {
    if (dash == std::string::npos) return {std::stoll(id), 0};
    return {std::stoll(id.substr(0, dash)), std::stoll(id.substr(dash + 1))};
  } catch (...) {
    return {0, 0};
  }
}

}  // namespace

std::int64_t StreamIdMillis(const std::string& id) { return SplitId(id).first; }
bool StreamIdLess(const std::string& a, const std::string& b) { return SplitId(a) < SplitId(b); }

EchoFollower::EchoFollower(EchoSpec spec, ConnFactory factory, const AgentMetrics* metrics)
    : spec_(std::move(spec)), factory_(std::move(factory)), metrics_(metrics) {}

EchoFollower::~EchoFollower() { Stop(); }

void EchoFollower::Start() {
  thread_ = std::thread([this] { Run(); });
}

void EchoFollower::Quiesce() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  std::lock_guard<std::mutex> wait_for_writes(write_mu_);
}

void EchoFollower::Stop() {
  Quiesce();
  if (thread_.joinable()) thread_.join();
}

// KEYS: the marker; ARGV: value, PX lease ("" for none).
constexpr const char* kEchoMarkerScript = R"lua(
local m = redis.call('GET', KEYS[1])
if m and string.sub(m, 1, 5) ~= 'echo ' and string.sub(m, 1, 11) ~= 'echo-stale ' then
  return 0
end
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
)lua";

void EchoFollower::SetMarker(RedisConn& self, bool fresh) {
  std::lock_guard<std::mutex> w(write_mu_);
  if (stop_) return;
  // A fresh lease renewed within a quarter of the bound still has most of it.
  const auto now = std::chrono::steady_clock::now();
  if (fresh && in_sync_ && now - renewed_ < spec_.bound / 4) return;
  Marker m{fresh ? MarkerKind::kEcho : MarkerKind::kEchoStale, spec_.epoch, spec_.owner.text};
  (void)self.Command({"EVAL", kEchoMarkerScript, "1", MarkerKey(spec_.range), FormatMarker(m),
                      fresh ? std::to_string(spec_.bound.count()) : std::string()});
  in_sync_ = fresh;
  if (fresh) renewed_ = now;
}

void EchoFollower::Pace(std::chrono::steady_clock::time_point round_start) {
  // Idle: XREAD already blocked for the next write.
  if (last_read_ == 0 || spec_.pace.count() <= 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, round_start + spec_.pace,
                 [this] { return stop_.load() || hurry_.load() > 0; });
}

void EchoFollower::SetApplied(const std::string& id) {
  last_id_ = id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    applied_ = id;
  }
  cv_.notify_all();
}

bool EchoFollower::WaitApplied(const std::string& id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  ++hurry_;
  cv_.notify_all();  // out of Pace
  const bool ok = cv_.wait_for(lock, timeout, [&] {
    return filled_.load() && !applied_.empty() && !StreamIdLess(applied_, id);
  });
  --hurry_;
  return ok;
}

bool EchoFollower::Apply(RedisConn& owner, RedisConn& self, const std::vector<std::string>& keys) {
  std::vector<Argv> reads;
  for (const auto& k : keys) {
    reads.push_back({"DUMP", k});
    reads.push_back({"PTTL", k});
  }
  auto got = owner.Pipeline(reads);
  if (!got) return false;
  std::vector<Argv> writes;
  std::size_t restored = 0, bytes = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const Reply& dump = (*got)[2 * i];
    const Reply& pttl = (*got)[2 * i + 1];
    if (dump.is_nil() || dump.is_error() ||
        (pttl.type == Reply::Type::kInteger && pttl.integer == -2)) {
      writes.push_back({"DEL", keys[i]});
      continue;
    }
    const std::int64_t ttl =
        pttl.type == Reply::Type::kInteger && pttl.integer > 0 ? pttl.integer : 0;
    ++restored;
    bytes += dump.str.size();
    writes.push_back({"RESTORE", keys[i], std::to_string(ttl), dump.str, "REPLACE"});
  }
  {
    std::lock_guard<std::mutex> w(write_mu_);
    if (stop_) return false;
    auto put = self.Pipeline(writes);
    if (!put) return false;
  }
  if (metrics_ != nullptr) {
    metrics_->echo_refreshed->with({{"range", std::to_string(spec_.range)}})
        ->inc(static_cast<double>(keys.size()));
    // What the log carried (serialized values, DUMP's size): the catch-up
    // a pre-warmed move relies on.
    const runtime::Labels kind{{"kind", "echo-refresh"}};
    metrics_->keys_copied->with(kind)->inc(static_cast<double>(restored));
    metrics_->bytes_copied->with(kind)->inc(static_cast<double>(bytes));
  }
  return true;
}

std::string EchoFollower::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

Result<void> EchoFollower::Refill(RedisConn& owner, RedisConn& self) {
  SetMarker(self, false);
  {
    // Until the refill completes, nothing here is caught up to anything.
    std::lock_guard<std::mutex> lock(mu_);
    filled_ = false;
    applied_.clear();
  }
  auto tail = owner.Command({"XREVRANGE", WriteLogKey(spec_.range), "+", "-", "COUNT", "1"});
  if (!tail) return unexpected(tail.error());
  if (tail->type != Reply::Type::kArray || tail->elements.empty()) {
    return unexpected(Error{"write log " + WriteLogKey(spec_.range) + " is missing on the owner " +
                            spec_.owner.text});
  }
  const std::string from = tail->elements[0].elements[0].str;
  {
    std::lock_guard<std::mutex> w(write_mu_);
    if (stop_) return {};
    auto deleted = DeleteRangeKeys(self, spec_.start, spec_.end);
    if (!deleted) return unexpected(deleted.error());
  }
  std::string cursor = "0";
  do {
    if (stop_) return {};
    auto page = ScanRange(owner, cursor, spec_.start, spec_.end, 1000);
    if (!page) return unexpected(page.error());
    for (std::size_t i = 0; i < page->keys.size(); i += 100) {
      const auto last = std::min(page->keys.size(), i + 100);
      std::vector<std::string> batch(page->keys.begin() + i, page->keys.begin() + last);
      // Sized as a move's copy is (MEMORY USAGE), so bytes moved compare.
      auto sized = PresentKeys(owner, std::move(batch));
      if (!sized) return unexpected(sized.error());
      const std::vector<std::string>& present = sized->keys;
      const std::int64_t bytes = sized->bytes;
      if (present.empty()) continue;
      std::lock_guard<std::mutex> w(write_mu_);
      if (stop_) return {};
      auto m = Migrate(owner, spec_.self, present, /*copy=*/true, 5000);
      if (!m) return unexpected(m.error());
      if (metrics_ != nullptr) {
        const runtime::Labels kind{{"kind", "echo-fill"}};
        metrics_->keys_copied->with(kind)->inc(static_cast<double>(present.size()));
        metrics_->bytes_copied->with(kind)->inc(static_cast<double>(bytes));
        metrics_->copy_batches->with(kind)->inc();
      }
    }
    cursor = page->cursor;
  } while (cursor != "0");
  SetApplied(from);
  return {};
}

EchoFollower::RoundResult EchoFollower::Round(RedisConn& owner, RedisConn& self) {
  constexpr int kCount = 512;
  const std::string log = WriteLogKey(spec_.range);
  last_read_ = 0;
  auto r = owner.Pipeline(
      {{"XRANGE", log, "-", "+", "COUNT", "1"},
       {"XREAD", "COUNT", std::to_string(kCount), "BLOCK", "100", "STREAMS", log, last_id_}});
  if (!r) return RoundResult::kError;
  const Reply& first = (*r)[0];
  if (first.type != Reply::Type::kArray || first.elements.empty()) {
    SetMarker(self, false);  // the log is gone: the owner is no longer logging for us
    std::lock_guard<std::mutex> lock(mu_);
    error_ = "write log " + log + " is missing on the owner " + spec_.owner.text;
    return RoundResult::kError;
  }
  const std::string first_id = first.elements[0].elements[0].str;
  if (StreamIdLess(last_id_, first_id)) {
    spdlog::warn("echo range {}: the write log was trimmed past {}", spec_.range, last_id_);
    return RoundResult::kGap;
  }
  const Reply& read = (*r)[1];
  if (read.type != Reply::Type::kArray || read.elements.empty()) {
    lag_ms_ = 0;
    if (metrics_) metrics_->echo_lag->with({{"range", std::to_string(spec_.range)}})->set(0);
    SetMarker(self, true);
    filled_ = true;
    cv_.notify_all();
    return RoundResult::kOk;
  }
  const auto& entries = read.elements[0].elements[1].elements;
  last_read_ = entries.size();
  if (entries.empty()) return RoundResult::kOk;
  const std::int64_t lag = NowMillis() - StreamIdMillis(entries.front().elements[0].str);
  lag_ms_ = std::max<std::int64_t>(0, lag);
  if (metrics_) metrics_->echo_lag->with({{"range", std::to_string(spec_.range)}})->set(lag / 1e3);
  if (lag > spec_.bound.count()) SetMarker(self, false);
  std::set<std::string> unique;
  std::vector<std::string> keys;
  for (const auto& e : entries) {
    const auto& fields = e.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "k" && !IsReservedKey(fields[i + 1].str) &&
          unique.insert(fields[i + 1].str).second) {
        keys.push_back(fields[i + 1].str);
      }
    }
  }
  if (!keys.empty() && !Apply(owner, self, keys)) return RoundResult::kError;
  if (entries.size() < static_cast<std::size_t>(kCount)) {
    lag_ms_ = 0;
    SetMarker(self, true);
    filled_ = true;
  }
  SetApplied(entries.back().elements[0].str);
  return RoundResult::kOk;
}

void EchoFollower::Run() {
  int failures = 0;
  while (!stop_) {
    auto owner = factory_(spec_.owner.host, spec_.owner.port);
    auto self = factory_(spec_.self.host, spec_.self.port);
    if (owner && self) {
      Result<void> filled = need_refill_ ? Refill(**owner, **self) : Result<void>();
      if (!filled) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = filled.error().message;
      } else if (!stop_) {
        need_refill_ = false;
        RoundResult rr = RoundResult::kOk;
        while (!stop_) {
          const auto round_start = std::chrono::steady_clock::now();
          if ((rr = Round(**owner, **self)) != RoundResult::kOk) break;
          failures = 0;
          Pace(round_start);
        }
        if (rr == RoundResult::kGap) need_refill_ = true;
      }
    }
    if (stop_) break;
    if (self) SetMarker(**self, false);
    ++failures;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(std::min(1000, 100 * failures)),
                 [this] { return stop_.load(); });
  }
}

}  // namespace shardcast::agent
