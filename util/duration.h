// Go-style durations ("90s", "30m", "1h30m", "1.5h", "500ms"), parsed once
// for every spec field and flag. Pure; errors name the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/expected.h"

namespace shardcast::util {

// Whole seconds (rounded down, at least 0). Units h m s ms us µs ns; "0"
// alone is zero. Errors name `field` ("spec.limits.cooldown: ...").
[[nodiscard]] Result<int64_t> ParseDurationSeconds(std::string_view s, const std::string& field);

}  // namespace shardcast::util
