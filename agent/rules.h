// The agent's pure rules: range markers, the replay record of an action
// step (idempotency), the copy rate limiter, progress answers and the range
// size estimate. No I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/expected.h"

namespace shardcast::agent {

// ---- Range markers (docs/dataplane-protocol.md, "The range marker") ----

// kFrozen: the owner of a range being handed to its echo (a pre-warmed
// move): reads are served, writes refused TRYAGAIN until the handover ends.
enum class MarkerKind { kMigrating, kImporting, kGone, kEcho, kEchoStale, kFrozen };

struct Marker {
  MarkerKind kind = MarkerKind::kMigrating;
  std::int64_t epoch = 0;
  std::string endpoint;
};

std::string MarkerKey(std::uint32_t range);    // __shardcast:range:<id>
std::string WriteLogKey(std::uint32_t range);  // __shardcast:wlog:<id>
std::string EchoSetKey(std::uint32_t range);   // __shardcast:echoes:<id> (on the owner)
inline constexpr const char* kFenceKey = "__shardcast:fence";
inline constexpr const char* kActionsKey = "__shardcast:actions";
inline constexpr const char* kActionOrderKey = "__shardcast:actions:order";
inline constexpr const char* kJobsKey = "__shardcast:jobs";

std::string FormatMarker(const Marker& m);  // "migrating 7 10.0.0.1:6379"
// Whether `m` is an echo's marker (`echo` or `echo-stale`).
inline bool IsEchoMarker(const std::optional<Marker>& m) {
  return m && (m->kind == MarkerKind::kEcho || m->kind == MarkerKind::kEchoStale);
}
[[nodiscard]] Result<Marker> ParseMarker(const std::string& value);

// ---- Idempotency: the recorded answer of one action step ----

struct ActionRecord {
  std::string fingerprint;  // what the first request asked for
  int status = 200;
  std::string body;  // the JSON answer
};
std::string EncodeRecord(const ActionRecord& r);
[[nodiscard]] Result<ActionRecord> DecodeRecord(const std::string& text);
// "<action>/<hook>": the field of the record in __shardcast:actions.
std::string RecordField(const std::string& action, const std::string& hook);

// What to do with a request whose action step may have been answered.
struct Replay {
  bool replay = false;    // answer `record` again, do nothing
  bool conflict = false;  // same action id and step, different request: 409
  std::string message;
};
Replay DecideReplay(const std::optional<ActionRecord>& record, const std::string& fingerprint);

// Fencing: a request is refused when its token is lower than the highest
// seen. Equal tokens pass (the same leader repeats itself).
inline bool FenceAllows(std::int64_t highest_seen, std::int64_t token) {
  return token >= highest_seen;
}

// Answers are recorded only when they settle the step: success (2xx) and
// conflicts that a retry cannot change are not distinguished from transient
// failures by callers, so only 2xx is recorded (a 5xx is retried for real).
inline bool ShouldRecord(int status) { return status >= 200 && status < 300; }

// ---- Copy rate limit: a token bucket of keys ----

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  // rate <= 0: unlimited. Burst is one second of rate (at least one batch).
  TokenBucket(double keys_per_second, double burst);
  // Takes n tokens at `now`; returns how long the caller must wait first.
  std::chrono::microseconds Take(double n, Clock::time_point now);

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::optional<Clock::time_point> last_;
};

// ---- Jobs: copy, abort (keys back), echo fill ----

enum class JobState { kIdle, kCopying, kDone, kFailed };
std::string JobStateName(JobState s);
[[nodiscard]] Result<JobState> ParseJobState(const std::string& s);

// Progress of a pass over the source: scanned / total keys seen at start,
// held below 1 until the job is done.
double CopyProgress(JobState state, std::uint64_t scanned, std::uint64_t db_size);
std::string ProgressJson(JobState state, double progress, const std::string& message);

// ---- Range size report ----

struct RangeBounds {
  std::uint32_t id = 0;
  std::uint32_t start = 0;
  std::uint32_t end = 0;
};
// The operator's equal split: start_i = floor(i * 2^32 / n). n in [1, 65536].
[[nodiscard]] Result<std::vector<RangeBounds>> EqualRanges(std::int64_t n);
// Index into `ranges` (sorted, covering) of the range that holds `hash`.
std::size_t FindRange(const std::vector<RangeBounds>& ranges, std::uint32_t hash);

// An explicit range list (POST /shardcast/ranges, CONTRACTS C4): the body
// {"ranges":[{"id":3,"start":0,"end":1048575}, ...]}, at most
// kMaxListedRanges entries, ids below kMaxListedRanges and unique, start <=
// end < 2^32, no two ranges overlapping. Entries keep the request's order.
// Errors name the field ("ranges[2].end: must be >= start"). Pure.
inline constexpr std::size_t kMaxListedRanges = 4096;
[[nodiscard]] Result<std::vector<RangeBounds>> ParseRangeList(std::string_view body);

// Finds the range of a list (any order, not overlapping, not necessarily
// covering) that holds a hash: Index() is the position in the list, or
// nullopt for a hash outside every listed range.
class RangeIndex {
 public:
  explicit RangeIndex(const std::vector<RangeBounds>& ranges);
  std::optional<std::size_t> Index(std::uint32_t hash) const;

 private:
  std::vector<std::pair<RangeBounds, std::size_t>> sorted_;  // by start
};

struct RangeTally {
  std::uint64_t keys = 0;
  std::uint64_t sampled_keys = 0;
  std::uint64_t sampled_bytes = 0;
};
// Bytes of a range: exact when every key was sampled, else the range's
// sampled mean (or `global_mean` when none of its keys was sampled) times
// its keys.
std::uint64_t EstimateBytes(const RangeTally& t, double global_mean);
// Sample every k-th key so that about `max_samples` keys are measured.
std::uint64_t SampleStride(std::uint64_t db_size, std::uint64_t max_samples);

}  // namespace shardcast::agent
