// The 5-field cron matcher of maintenance windows and blackouts.
#include "util/cron.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "util/time.h"

namespace shardcast::util {
namespace {

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
    return unexpected(
        Error{std::string("cron ") + name + " field \"" + std::string(field) + "\": " + why});
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
  c.dom_star_ = *dom;
  c.dow_star_ = *dow;
  return c;
}

bool Cron::Matches(int64_t t) const {
  CivilTime c = ToCivil(t);
  if (!minute_.test(static_cast<std::size_t>(c.minute)) ||
      !hour_.test(static_cast<std::size_t>(c.hour)) ||
      !month_.test(static_cast<std::size_t>(c.month))) {
    return false;
  }
  bool dom_ok = dom_.test(static_cast<std::size_t>(c.day));
  bool dow_ok = dow_.test(static_cast<std::size_t>(c.weekday));
  if (dom_star_ || dow_star_) return dom_ok && dow_ok;
  return dom_ok || dow_ok;
}

bool Cron::ActiveAt(int64_t now, int64_t duration_seconds) const {
  if (duration_seconds <= 0) return false;
  int64_t minute_start = now - (((now % 60) + 60) % 60);
  // Look back at most 400 days of minute starts; windows longer than that
  // are treated as 400 days.
  const int64_t max_look = 400LL * 86400;
  int64_t earliest = now - std::min(duration_seconds, max_look);
  for (int64_t t = minute_start; t > earliest; t -= 60) {
    // Skip whole hours/days quickly when they cannot match.
    CivilTime c = ToCivil(t);
    if (!month_.test(static_cast<std::size_t>(c.month)) ||
        !(dom_star_ || dow_star_ ? dom_.test(static_cast<std::size_t>(c.day)) &&
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

}  // namespace shardcast::util
