// Civil time and RFC 3339 timestamps (UTC, Unix seconds).
#include "util/time.h"

#include <cctype>
#include <cstdio>

namespace shardcast::util {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Digits only (no sign, no space).
bool ParseDigits(std::string_view s, int& v) {
  if (s.empty()) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

int64_t FromCivil(int year, int month, int day, int hour, int minute, int second) {
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second;
}

CivilTime ToCivil(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t secs = t - days * 86400;
  CivilTime c{};
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs % 3600 / 60);
  c.second = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (c.month <= 2));
  return c;
}

Result<Rfc3339Time> ParseRfc3339Time(std::string_view s, Rfc3339Syntax syntax) {
  auto bad = [&]() {
    return unexpected(
        Error{"timestamp \"" + std::string(s) + "\": want RFC 3339, e.g. 2026-11-27T08:00:00Z"});
  };
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') return bad();
  if (s[10] != 'T' && s[10] != 't' && !(syntax.space_separator && s[10] == ' ')) return bad();
  int y, mo, d, h, mi, se;
  if (!ParseDigits(s.substr(0, 4), y) || !ParseDigits(s.substr(5, 2), mo) ||
      !ParseDigits(s.substr(8, 2), d) || !ParseDigits(s.substr(11, 2), h) ||
      !ParseDigits(s.substr(14, 2), mi) || !ParseDigits(s.substr(17, 2), se)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 || se > 60) {
    return bad();
  }
  Rfc3339Time out;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    double scale = 0.1;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, scale /= 10) {
      out.fraction += (s[i] - '0') * scale;
    }
    if (s[i - 1] == '.') return bad();
  }
  int64_t offset = 0;
  if (i == s.size()) {
    if (!syntax.optional_zone) return bad();
  } else if (s[i] == 'Z' || s[i] == 'z') {
    if (i + 1 != s.size()) return bad();
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (s.size() != i + 6 || s[i + 3] != ':' || !ParseDigits(s.substr(i + 1, 2), oh) ||
        !ParseDigits(s.substr(i + 4, 2), om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
  } else {
    return bad();
  }
  out.seconds = FromCivil(y, mo, d, h, mi, se) - offset;
  return out;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto t = ParseRfc3339Time(s);
  if (!t) return unexpected(t.error());
  return t->seconds;
}

std::string FormatRfc3339(int64_t t) {
  CivilTime c = ToCivil(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

}  // namespace shardcast::util
