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
    {MarkerKind::kFrozen, "frozen"},
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

Result<std::vector<RangeBounds>> ParseRangeList(std::string_view body) {
  const Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return unexpected(Error{"body: must be a JSON object"});
  if (!j.contains("ranges")) return unexpected(Error{"ranges: required"});
  const Json& list = j["ranges"];
  if (!list.is_array()) return unexpected(Error{"ranges: must be an array"});
  if (list.size() > kMaxListedRanges) {
    return unexpected(Error{"ranges: at most " + std::to_string(kMaxListedRanges) +
                            " entries, got " + std::to_string(list.size())});
  }
  constexpr std::uint64_t kMaxHash = 0xffffffffu;
  std::vector<RangeBounds> out;
  std::vector<bool> seen(kMaxListedRanges, false);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "ranges[" + std::to_string(i) + "]";
    const Json& e = list[i];
    if (!e.is_object()) return unexpected(Error{at + ": must be an object"});
    std::uint64_t v[3] = {0, 0, 0};
    const char* names[3] = {"id", "start", "end"};
    const std::uint64_t max[3] = {kMaxListedRanges - 1, kMaxHash, kMaxHash};
    for (int f = 0; f < 3; ++f) {
      const std::string field = at + "." + names[f];
      if (!e.contains(names[f])) return unexpected(Error{field + ": required"});
      const Json& x = e[names[f]];
      if (!x.is_number_unsigned() || x.get<std::uint64_t>() > max[f]) {
        return unexpected(
            Error{field + ": must be an integer in [0, " + std::to_string(max[f]) + "]"});
      }
      v[f] = x.get<std::uint64_t>();
    }
    if (v[2] < v[1]) return unexpected(Error{at + ".end: must be >= start"});
    if (seen[v[0]]) {
      return unexpected(Error{at + ".id: " + std::to_string(v[0]) + " is listed twice"});
    }
    seen[v[0]] = true;
    out.push_back({static_cast<std::uint32_t>(v[0]), static_cast<std::uint32_t>(v[1]),
                   static_cast<std::uint32_t>(v[2])});
  }
  std::vector<std::size_t> order(out.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return out[a].start < out[b].start; });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const RangeBounds& prev = out[order[k - 1]];
    if (out[order[k]].start <= prev.end) {
      return unexpected(Error{"ranges[" + std::to_string(order[k]) + "]: overlaps ranges[" +
                              std::to_string(order[k - 1]) + "] (id " + std::to_string(prev.id) +
                              ")"});
    }
  }
  return out;
}

RangeIndex::RangeIndex(const std::vector<RangeBounds>& ranges) {
  for (std::size_t i = 0; i < ranges.size(); ++i) sorted_.push_back({ranges[i], i});
  std::sort(sorted_.begin(), sorted_.end(),
            [](const auto& a, const auto& b) { return a.first.start < b.first.start; });
}

std::optional<std::size_t> RangeIndex::Index(std::uint32_t hash) const {
  auto it = std::upper_bound(sorted_.begin(), sorted_.end(), hash,
                             [](std::uint32_t h, const auto& r) { return h < r.first.start; });
  if (it == sorted_.begin()) return std::nullopt;
  --it;
  if (hash > it->first.end) return std::nullopt;
  return it->second;
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
