// The planner's time helpers: a 5-field cron matcher, Go-style durations and
// RFC 3339 timestamps. They are util's (util/cron.h, util/duration.h,
// util/time.h), parsed once for the whole project; this header only names
// them in the planner's namespace. All times are Unix seconds, UTC.
#pragma once

#include <cstdint>
#include <string_view>

#include "util/cron.h"
#include "util/duration.h"
#include "util/expected.h"
#include "util/time.h"

namespace shardcast::planner {

using util::CivilTime;
using util::Cron;
using util::FormatRfc3339;
using util::FromCivil;
using util::ParseRfc3339;
using util::ToCivil;

// A duration that belongs to no spec field (the planner's own inputs, the
// CLI's flags): "1h30m", "45s", "500ms" (rounded down to seconds), "0".
[[nodiscard]] inline Result<int64_t> ParseDurationSeconds(std::string_view s) {
  return util::ParseDurationSeconds(s, "duration");
}

}  // namespace shardcast::planner
