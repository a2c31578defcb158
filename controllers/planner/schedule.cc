#include "controllers/planner/schedule.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <vector>

namespace shardcast::planner {

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

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool ParseInt(std::string_view s, int& v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

template <std::size_t N>
Result<bool> ParseField(std::string_view field, int lo, int hi, const char* name,
                        std::bitset<N>& bits) {
  auto err = [&](const std::string& why) {
    return unexpected(Error{std::string("cron ") + name + " field \"" + std::string(field) +
                            "\": " + why});
  };
  bool star = field == "*";
  for (std::string_view part : Split(field, ',')) {
    int step = 1;
    auto slash = part.find('/');
    if (slash != std::string_view::npos) {
      if (!ParseInt(part.substr(slash + 1), step) || step < 1) return err("bad step");
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      auto dash = part.find('-');
      if (dash == std::string_view::npos) {
        if (!ParseInt(part, a)) return err("not a number");
        b = slash != std::string_view::npos ? hi : a;
      } else if (!ParseInt(part.substr(0, dash), a) || !ParseInt(part.substr(dash + 1), b)) {
        return err("bad range");
      }
    }
    if (a < lo || b > hi || a > b) {
      return err("out of range " + std::to_string(lo) + "-" + std::to_string(hi));
    }
    for (int v = a; v <= b; v += step) bits.set(static_cast<std::size_t>(v));
  }
  return star;
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

Result<Cron> Cron::Parse(std::string_view expr) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    std::size_t start = i;
    while (i < expr.size() && !std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    if (i > start) fields.push_back(expr.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return unexpected(Error{"cron \"" + std::string(expr) + "\": need 5 fields, got " +
                            std::to_string(fields.size())});
  }
  Cron c;
  auto m = ParseField(fields[0], 0, 59, "minute", c.minute_);
  if (!m) return unexpected(m.error());
  auto h = ParseField(fields[1], 0, 23, "hour", c.hour_);
  if (!h) return unexpected(h.error());
  auto dom = ParseField(fields[2], 1, 31, "day-of-month", c.dom_);
  if (!dom) return unexpected(dom.error());
  auto mon = ParseField(fields[3], 1, 12, "month", c.month_);
  if (!mon) return unexpected(mon.error());
  auto dow = ParseField(fields[4], 0, 7, "day-of-week", c.dow_);
  if (!dow) return unexpected(dow.error());
  if (c.dow_.test(7)) c.dow_.set(0);
  c.domStar_ = *dom;
  c.dowStar_ = *dow;
  return c;
}

bool Cron::Matches(int64_t t) const {
  CivilTime c = ToCivil(t);
  if (!minute_.test(static_cast<std::size_t>(c.minute)) ||
      !hour_.test(static_cast<std::size_t>(c.hour)) ||
      !month_.test(static_cast<std::size_t>(c.month))) {
    return false;
  }
  bool domOk = dom_.test(static_cast<std::size_t>(c.day));
  bool dowOk = dow_.test(static_cast<std::size_t>(c.weekday));
  if (domStar_ || dowStar_) return domOk && dowOk;
  return domOk || dowOk;
}

bool Cron::ActiveAt(int64_t now, int64_t durationSeconds) const {
  if (durationSeconds <= 0) return false;
  int64_t minuteStart = now - (((now % 60) + 60) % 60);
  // Look back at most 400 days of minute starts; windows longer than that
  // are treated as 400 days.
  const int64_t maxLook = 400LL * 86400;
  int64_t earliest = now - std::min(durationSeconds, maxLook);
  for (int64_t t = minuteStart; t > earliest; t -= 60) {
    // Skip whole hours/days quickly when they cannot match.
    CivilTime c = ToCivil(t);
    if (!month_.test(static_cast<std::size_t>(c.month)) ||
        !(domStar_ || dowStar_
              ? dom_.test(static_cast<std::size_t>(c.day)) &&
                    dow_.test(static_cast<std::size_t>(c.weekday))
              : dom_.test(static_cast<std::size_t>(c.day)) ||
                    dow_.test(static_cast<std::size_t>(c.weekday)))) {
      t -= c.hour * 3600 + c.minute * 60;  // jump to this day's 00:00, loop steps back
      continue;
    }
    if (!hour_.test(static_cast<std::size_t>(c.hour))) {
      t -= c.minute * 60;
      continue;
    }
    if (Matches(t)) return true;
  }
  return false;
}

Result<int64_t> ParseDurationSeconds(std::string_view s) {
  auto bad = [&](const std::string& why) {
    return unexpected(Error{"duration \"" + std::string(s) + "\": " + why});
  };
  if (s.empty()) return bad("empty");
  if (s == "0") return int64_t{0};
  double total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return bad("expected a number");
    double v = 0;
    auto [p, ec] = std::from_chars(s.data() + start, s.data() + i, v);
    if (ec != std::errc() || p != s.data() + i) return bad("bad number");
    std::size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double mult;
    if (unit == "h") mult = 3600;
    else if (unit == "m") mult = 60;
    else if (unit == "s") mult = 1;
    else if (unit == "ms") mult = 1e-3;
    else if (unit == "us" || unit == "µs") mult = 1e-6;
    else if (unit == "ns") mult = 1e-9;
    else return bad("unknown unit \"" + std::string(unit) + "\" (use h, m, s, ms)");
    total += v * mult;
  }
  return static_cast<int64_t>(total);
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto bad = [&]() {
    return unexpected(Error{"timestamp \"" + std::string(s) +
                            "\": want RFC 3339, e.g. 2026-11-27T08:00:00Z"});
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':') {
    return bad();
  }
  int y, mo, d, h, mi, se;
  if (!ParseInt(s.substr(0, 4), y) || !ParseInt(s.substr(5, 2), mo) ||
      !ParseInt(s.substr(8, 2), d) || !ParseInt(s.substr(11, 2), h) ||
      !ParseInt(s.substr(14, 2), mi) || !ParseInt(s.substr(17, 2), se)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return bad();
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i >= s.size()) return bad();
  int64_t offset = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    if (i + 1 != s.size()) return bad();
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (s.size() != i + 6 || s[i + 3] != ':' || !ParseInt(s.substr(i + 1, 2), oh) ||
        !ParseInt(s.substr(i + 4, 2), om)) {
      return bad();
    }
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
  } else {
    return bad();
  }
  return FromCivil(y, mo, d, h, mi, se) - offset;
}

std::string FormatRfc3339(int64_t t) {
  CivilTime c = ToCivil(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day,
                c.hour, c.minute, c.second);
  return buf;
}

}  // namespace shardcast::planner
