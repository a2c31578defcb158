#include "util/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "util/bad_input.h"

namespace shardcast::util {

Result<int64_t> ParseDurationSeconds(std::string_view s, const std::string& field) {
  if (s.empty()) return BadInput(field, s, "empty duration");
  if (s == "0") return int64_t{0};
  if (s.size() > 64) return BadInput(field, s, "duration too long");
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return BadInput(field, s, "not a duration (expected e.g. 30s, 5m, 1h30m)");
    std::string num(s.substr(start, i - start));
    char* end = nullptr;
    double v = std::strtod(num.c_str(), &end);
    if (end == nullptr || *end != '\0') return BadInput(field, s, "not a duration");
    size_t us = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(us, i - us);
    double mult;
    if (unit == "h")
      mult = 3600;
    else if (unit == "m")
      mult = 60;
    else if (unit == "s")
      mult = 1;
    else if (unit == "ms")
      mult = 1e-3;
    else if (unit == "us" || unit == "µs")
      mult = 1e-6;
    else if (unit == "ns")
      mult = 1e-9;
    else if (unit.empty())
      return BadInput(field, s, "missing unit (use h, m, s or ms)");
    else
      return BadInput(field, s, "unknown unit '" + std::string(unit) + "'");
    total += v * mult;
  }
  if (!std::isfinite(total) || total > 1e10) return BadInput(field, s, "duration out of range");
  return static_cast<int64_t>(total);
}

}  // namespace shardcast::util
