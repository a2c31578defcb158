// Pure time helpers for the planner: a 5-field cron matcher, Go-style
// durations and RFC 3339 timestamps. All times are Unix seconds, UTC.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "operator/util/expected.h"

namespace shardcast::planner {

// "minute hour day-of-month month day-of-week", each field "*", "n", "a-b",
// with optional "/step", comma lists. Day of week 0-7 (0 and 7 = Sunday).
// As in classic cron, when both day fields are restricted a day matches if
// either does.
class Cron {
 public:
  [[nodiscard]] static Result<Cron> Parse(std::string_view expr);
  bool Matches(int64_t unixSeconds) const;  // minute granularity
  // True when a start time t with t <= now < t + duration matches.
  bool ActiveAt(int64_t now, int64_t durationSeconds) const;

 private:
  std::bitset<60> minute_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;
  std::bitset<13> month_;
  std::bitset<8> dow_;
  bool domStar_ = true;
  bool dowStar_ = true;
};

struct CivilTime {
  int year, month, day, hour, minute, second, weekday;  // weekday 0 = Sunday
};
CivilTime ToCivil(int64_t unixSeconds);
int64_t FromCivil(int year, int month, int day, int hour, int minute, int second);

// "1h30m", "45s", "500ms" (rounded down to seconds), "0". Negative rejected.
[[nodiscard]] Result<int64_t> ParseDurationSeconds(std::string_view s);
// "2026-11-27T08:00:00Z", "...T08:00:00.5+01:00".
[[nodiscard]] Result<int64_t> ParseRfc3339(std::string_view s);
std::string FormatRfc3339(int64_t unixSeconds);

}  // namespace shardcast::planner
