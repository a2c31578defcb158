#include "util/quantity.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "util/bad_input.h"

namespace shardcast::util {

Result<double> ParseQuantity(std::string_view s, const std::string& field) {
  if (s.empty()) return BadInput(field, s, "empty quantity");
  if (s.size() > 64) return BadInput(field, s, "quantity too long");
  size_t i = 0;
  bool neg = false;
  if (s[i] == '+' || s[i] == '-') {
    neg = s[i] == '-';
    ++i;
  }
  size_t num_start = i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return BadInput(field, s, "not a quantity (no digits)");
  std::string number(s.substr(num_start, i - num_start));
  double v = std::strtod(number.c_str(), nullptr);
  std::string_view suffix = s.substr(i);
  double mult = 1;
  if (suffix.empty()) {
    mult = 1;
  } else if (suffix == "n") {
    mult = 1e-9;
  } else if (suffix == "u") {
    mult = 1e-6;
  } else if (suffix == "m") {
    mult = 1e-3;
  } else if (suffix == "k") {
    mult = 1e3;
  } else if (suffix == "M") {
    mult = 1e6;
  } else if (suffix == "G") {
    mult = 1e9;
  } else if (suffix == "T") {
    mult = 1e12;
  } else if (suffix == "P") {
    mult = 1e15;
  } else if (suffix == "E") {
    mult = 1e18;
  } else if (suffix == "Ki") {
    mult = 1024.0;
  } else if (suffix == "Mi") {
    mult = 1024.0 * 1024;
  } else if (suffix == "Gi") {
    mult = 1024.0 * 1024 * 1024;
  } else if (suffix == "Ti") {
    mult = std::ldexp(1.0, 40);
  } else if (suffix == "Pi") {
    mult = std::ldexp(1.0, 50);
  } else if (suffix == "Ei") {
    mult = std::ldexp(1.0, 60);
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string_view ex = suffix.substr(1);
    size_t j = 0;
    if (j < ex.size() && (ex[j] == '+' || ex[j] == '-')) ++j;
    if (j == ex.size() || ex.size() - j > 3) return BadInput(field, s, "bad exponent");
    for (size_t k = j; k < ex.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(ex[k])))
        return BadInput(field, s, "bad exponent");
    }
    mult = std::pow(10.0, std::atoi(std::string(ex).c_str()));
  } else {
    return BadInput(field, s, "unknown quantity suffix '" + std::string(suffix.substr(0, 8)) + "'");
  }
  double out = v * mult * (neg ? -1 : 1);
  if (!std::isfinite(out)) return BadInput(field, s, "quantity out of range");
  return out;
}

Result<double> ParseCpuMillis(std::string_view s, const std::string& field) {
  auto q = ParseQuantity(s, field);
  if (!q) return unexpected(q.error());
  if (*q < 0) return BadInput(field, s, "negative CPU");
  return *q * 1000.0;
}

Result<double> ParseBytes(std::string_view s, const std::string& field) {
  auto q = ParseQuantity(s, field);
  if (!q) return unexpected(q.error());
  if (*q < 0) return BadInput(field, s, "negative memory");
  return *q;
}

}  // namespace shardcast::util
