// Kubernetes resource quantities ("250m", "1", "1500u", "123456n", "128Mi",
// "1G", "1e3"), parsed once for every controller. Pure; never throws:
// garbage is an error naming the field.
#pragma once

#include <string>
#include <string_view>

#include "util/expected.h"

namespace shardcast::util {

// A quantity in base units (cores for CPU, bytes for memory). Accepts an
// optional sign, digits with an optional fraction, and one suffix: n u m
// (none) k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent e<int>/E<int>.
// `field` names the input in the error, e.g. "containers[0].usage.cpu".
[[nodiscard]] Result<double> ParseQuantity(std::string_view s, const std::string& field);

// CPU in millicores ("300m" -> 300, "1" -> 1000, "1500000n" -> 1.5).
// Negative values are an error.
[[nodiscard]] Result<double> ParseCpuMillis(std::string_view s, const std::string& field);
// Memory in bytes ("128Mi" -> 134217728). Negative values are an error.
[[nodiscard]] Result<double> ParseBytes(std::string_view s, const std::string& field);

}  // namespace shardcast::util
