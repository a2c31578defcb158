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

// What a timestamp may leave out of RFC 3339 (both off: RFC 3339 exactly).
struct Rfc3339Syntax {
  bool space_separator = false;  // "2026-11-27 08:00:00Z" as well as 'T'
  bool optional_zone = false;    // no zone means UTC
};

// Whole Unix seconds and the fraction of a second a timestamp gives.
struct Rfc3339Time {
  int64_t seconds = 0;
  double fraction = 0;  // in [0, 1)
};

// The one RFC 3339 parser: "2026-11-27T08:00:00Z", "...T08:00:00.5+01:00".
// Every field is checked (digits only, the month's days, offsets up to 23:59).
[[nodiscard]] Result<Rfc3339Time> ParseRfc3339Time(std::string_view s, Rfc3339Syntax syntax = {});

// Whole seconds of an RFC 3339 timestamp (the fraction is dropped).
[[nodiscard]] Result<int64_t> ParseRfc3339(std::string_view s);
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace shardcast::util
