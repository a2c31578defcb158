#include "agent/rules.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

namespace shardcast::agent {
namespace {
using Json = nlohmann::json;

constexpr std::pair<MarkerKind, const char*> kKinds[] = {
    {MarkerKind::kMigrating, "migrating"},
    {MarkerKind::kImporting, "importing"},
    {MarkerKind::kGone, "gone"},
    {MarkerKind::kEcho, "echo"},
    {MarkerKind::kEchoStale, "echo-stale"},
};
}  // namespace

std::string MarkerKey(std::uint32_t range) { return "__shardcast:range:" + std::to_string(range); }
std::string WriteLogKey(std::uint32_t range) { return "__shardcast:wlog:" + std::to_string(range); }
std::string EchoSetKey(std::uint32_t range) {
  return "__shardcast:echoes:" + std::to_string(range);
}

std::string FormatMarker(const Marker& m) {
  std::string kind;
  for (const auto& [k, name] : kKinds) {
    if (k == m.kind) kind = name;
  }
  return kind + " " + std::to_string(m.epoch) + " " + m.endpoint;
}

Result<Marker> ParseMarker(const std::string& value) {
  std::istringstream in(value);
  std::string kind, epoch, ep, extra;
  if (!(in >> kind >> epoch >> ep) || (in >> extra)) {
    return unexpected(
        Error{"marker: must be \"<kind> <epoch> <endpoint>\", got \"" + value + "\""});
  }
  Marker m;
  bool known = false;
  for (const auto& [k, name] : kKinds) {
    if (kind == name) {
      m.kind = k;
      known = true;
    }
  }
  if (!known) return unexpected(Error{"marker: unknown kind \"" + kind + "\""});
  if (epoch.empty() || !std::all_of(epoch.begin(), epoch.end(), ::isdigit) || epoch.size() > 18) {
    return unexpected(Error{"marker: epoch must be a non-negative integer, got \"" + epoch + "\""});
  }
  m.epoch = std::stoll(epoch);
  m.endpoint = ep;
  return m;
}

std::string EncodeRecord(const ActionRecord& r) {
  return Json{{"fingerprint", r.fingerprint}, {"status", r.status}, {"body", r.body}}.dump();
}

Result<ActionRecord> DecodeRecord(const std::string& text) {
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("fingerprint") ||
      !j["fingerprint"].is_string() || !j.contains("status") || !j["status"].is_number_integer() ||
      !j.contains("body") || !j["body"].is_string()) {
    return unexpected(Error{"action record: malformed"});
  }
  return ActionRecord{j["fingerprint"].get<std::string>(), j["status"].get<int>(),
                      j["body"].get<std::string>()};
}

std::string RecordField(const std::string& action, const std::string& hook) {
  return action + "/" + hook;
}

Replay DecideReplay(const std::optional<ActionRecord>& record, const std::string& fingerprint) {
  Replay r;
  if (!record) return r;
  if (record->fingerprint != fingerprint) {
    r.conflict = true;
    r.message = "action: this action id and step were already used for \"" + record->fingerprint +
                "\", not \"" + fingerprint + "\"";
    return r;
  }
  r.replay = true;
  return r;
}

TokenBucket::TokenBucket(double keys_per_second, double burst)
    : rate_(keys_per_second), burst_(std::max(burst, 1.0)), tokens_(std::max(burst, 1.0)) {}

std::chrono::microseconds TokenBucket::Take(double n, Clock::time_point now) {
  if (rate_ <= 0) return std::chrono::microseconds(0);
  if (last_) {
    const double elapsed = std::chrono::duration<double>(now - *last_).count();
    tokens_ = std::min(burst_, tokens_ + std::max(0.0, elapsed) * rate_);
  }
  last_ = now;
  tokens_ -= n;
  if (tokens_ >= 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(static_cast<std::int64_t>(std::ceil(-tokens_ / rate_ * 1e6)));
}

std::string JobStateName(JobState s) {
  switch (s) {
    case JobState::kIdle:
      return "idle";
    case JobState::kCopying:
      return "copying";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
  }
  return "idle";
}

Result<JobState> ParseJobState(const std::string& s) {
  for (JobState st : {JobState::kIdle, JobState::kCopying, JobState::kDone, JobState::kFailed}) {
    if (JobStateName(st) == s) return st;
  }
  return unexpected(Error{"state: unknown job state \"" + s + "\""});
}

double CopyProgress(JobState state, std::uint64_t scanned, std::uint64_t db_size) {
  if (state == JobState::kDone) return 1.0;
  if (state == JobState::kIdle || db_size == 0) return 0.0;
  return std::min(0.99, static_cast<double>(scanned) / static_cast<double>(db_size));
}

std::string ProgressJson(JobState state, double progress, const std::string& message) {
  Json j = {{"state", JobStateName(state)}, {"progress", progress}};
  if (!message.empty()) j["message"] = message;
  return j.dump();
}

Result<std::vector<RangeBounds>> EqualRanges(std::int64_t n) {
  if (n < 1 || n > 65536) return unexpected(Error{"count: must be an integer in [1, 65536]"});
  std::vector<RangeBounds> out;
  constexpr std::uint64_t kSpace = std::uint64_t{1} << 32;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t start = static_cast<std::uint64_t>(i) * kSpace / n;
    const std::uint64_t next = static_cast<std::uint64_t>(i + 1) * kSpace / n;
    out.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(start),
                   static_cast<std::uint32_t>(next - 1)});
  }
  return out;
}

std::size_t FindRange(const std::vector<RangeBounds>& ranges, std::uint32_t hash) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), hash,
                             [](std::uint32_t h, const RangeBounds& r) { return h < r.start; });
  return it == ranges.begin() ? 0 : static_cast<std::size_t>(it - ranges.begin() - 1);
}

std::uint64_t EstimateBytes(const RangeTally& t, double global_mean) {
  if (t.keys == 0) return 0;
  if (t.sampled_keys == t.keys) return t.sampled_bytes;
  const double mean = t.sampled_keys > 0 ? static_cast<double>(t.sampled_bytes) /
                                               static_cast<double>(t.sampled_keys)
                                         : global_mean;
  return static_cast<std::uint64_t>(std::llround(mean * static_cast<double>(t.keys)));
}

std::uint64_t SampleStride(std::uint64_t db_size, std::uint64_t max_samples) {
  if (max_samples == 0) return 0;
  if (db_size <= max_samples) return 1;
  return (db_size + max_samples - 1) / max_samples;
}

}  // namespace shardcast::agent
