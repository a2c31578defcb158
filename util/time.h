// Civil time and RFC 3339 timestamps. All times are Unix seconds, UTC. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/expected.h"

namespace shardcast::util {

struct CivilTime {
  int year, month, day, hour, minute, second, weekday;  // weekday 0 = Sunday
};
CivilTime ToCivil(int64_t unix_seconds);
int64_t FromCivil(int year, int month, int day, int hour, int minute, int second);

// "2026-11-27T08:00:00Z", "...T08:00:00.5+01:00".
[[nodiscard]] Result<int64_t> ParseRfc3339(std::string_view s);
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace shardcast::util
