// Quantities and durations are parsed once, in util/ (util/quantity.h,
// util/duration.h); the forecast controller uses them under its own names.
#pragma once

#include "util/duration.h"
#include "util/quantity.h"

namespace shardcast::forecast {

using util::ParseBytes;
using util::ParseCpuMillis;
using util::ParseDurationSeconds;
using util::ParseQuantity;

}  // namespace shardcast::forecast
