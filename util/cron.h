// A 5-field cron matcher (maintenance windows and blackouts). Pure.
#pragma once

#include <bitset>
#include <cstdint>
#include <string_view>

#include "util/expected.h"

namespace shardcast::util {

// "minute hour day-of-month month day-of-week", each field "*", "n", "a-b",
// with optional "/step", comma lists. Day of week 0-7 (0 and 7 = Sunday).
// As in classic cron, when both day fields are restricted a day matches if
// either does. Errors name the cron field ("cron hour field \"99\": ...").
class Cron {
 public:
  [[nodiscard]] static Result<Cron> Parse(std::string_view expr);
  bool Matches(int64_t unix_seconds) const;  // minute granularity
  // True when a start time t with t <= now < t + duration matches.
  bool ActiveAt(int64_t now, int64_t duration_seconds) const;

 private:
  std::bitset<60> minute_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;
  std::bitset<13> month_;
  std::bitset<8> dow_;
  bool dom_star_ = true;
  bool dow_star_ = true;
};

}  // namespace shardcast::util
