#include "controllers/forecast/router_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <tuple>

#include "controllers/forecast/state.h"
#include "predictor/parse.h"
#include "util/time.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

namespace {

constexpr std::string_view kRequests = "shardcast_router_range_requests_total";
constexpr std::string_view kErrors = "shardcast_router_range_errors_total";
constexpr std::string_view kLatencySum = "shardcast_router_range_latency_seconds_sum";
constexpr std::string_view kShadow = "shardcast_router_shadow_comparisons_total";
constexpr std::string_view kShadowSum = "shardcast_router_shadow_latency_seconds_sum";

bool Wanted(std::string_view line) {
  for (auto name : {kRequests, kErrors, kLatencySum, kShadow, kShadowSum}) {
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        (line[name.size()] == '{' || line[name.size()] == ' ')) {
      return true;
    }
  }
  return false;
}

// Each field of `a` plus (or minus) the same field of `b`.
RangeTelemetry Combine(const RangeTelemetry& a, const RangeTelemetry& b, double sign) {
  RangeTelemetry r;
  r.reads = a.reads + sign * b.reads;
  r.writes = a.writes + sign * b.writes;
  r.errors = a.errors + sign * b.errors;
  r.latency_sum = a.latency_sum + sign * b.latency_sum;
  r.shadow_match = a.shadow_match + sign * b.shadow_match;
  r.shadow_mismatch = a.shadow_mismatch + sign * b.shadow_mismatch;
  r.shadow_error = a.shadow_error + sign * b.shadow_error;
  r.shadow_owner_sum = a.shadow_owner_sum + sign * b.shadow_owner_sum;
  r.shadow_target_sum = a.shadow_target_sum + sign * b.shadow_target_sum;
  return r;
}

// One counter's increase: a drop is a restart (the new value is the increase).
double Increase(double now, double before) { return now >= before ? now - before : now; }

RangeTelemetry Increases(const RangeTelemetry& now, const RangeTelemetry& before) {
  RangeTelemetry r;
  // A restart resets every series of the router at once: judge it on the
  // request counter so that the fields of one range stay consistent.
  const bool reset = now.requests() < before.requests() ||
                     now.shadow_compared() < before.shadow_compared() || now.errors < before.errors;
  if (reset) return now;
  r.reads = Increase(now.reads, before.reads);
  r.writes = Increase(now.writes, before.writes);
  r.errors = Increase(now.errors, before.errors);
  r.latency_sum = Increase(now.latency_sum, before.latency_sum);
  r.shadow_match = Increase(now.shadow_match, before.shadow_match);
  r.shadow_mismatch = Increase(now.shadow_mismatch, before.shadow_mismatch);
  r.shadow_error = Increase(now.shadow_error, before.shadow_error);
  r.shadow_owner_sum = Increase(now.shadow_owner_sum, before.shadow_owner_sum);
  r.shadow_target_sum = Increase(now.shadow_target_sum, before.shadow_target_sum);
  return r;
}

}  // namespace

RangeTelemetryMap ParseRouterMetrics(const std::string& text, std::vector<std::string>* errors) {
  std::string wanted;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (Wanted(line)) {
      wanted.append(line);
      wanted.push_back('\n');
    }
    pos = end + 1;
  }
  RangeTelemetryMap out;
  auto parsed = predictor::ParsePromText(wanted, 10);
  size_t reported = 0;
  auto report = [&](const std::string& e) {
    if (errors && reported++ < 10) errors->push_back(e);
  };
  for (const auto& e : parsed.errors) report(e);
  for (const auto& s : parsed.samples) {
    auto it = s.labels.find("range");
    const std::optional<int> range = it == s.labels.end() ? std::nullopt : ParseRangeId(it->second);
    if (!range || !std::isfinite(s.value) || s.value < 0) {
      report(s.name + ": bad or missing range label or value");
      continue;
    }
    auto label = [&](const char* k) {
      auto l = s.labels.find(k);
      return l == s.labels.end() ? std::string() : l->second;
    };
    RangeTelemetry& r = out[*range];
    if (s.name == kRequests) {
      (label("kind") == "write" ? r.writes : r.reads) += s.value;
    } else if (s.name == kErrors) {
      r.errors += s.value;
    } else if (s.name == kLatencySum) {
      r.latency_sum += s.value;
    } else if (s.name == kShadow) {
      const std::string res = label("result");
      (res == "match"      ? r.shadow_match
       : res == "mismatch" ? r.shadow_mismatch
                           : r.shadow_error) += s.value;
    } else if (s.name == kShadowSum) {
      (label("side") == "target" ? r.shadow_target_sum : r.shadow_owner_sum) += s.value;
    }
  }
  return out;
}

std::map<int, double> RouterTotals::Add(const std::string& router, const RangeTelemetryMap& scrape,
                                        int64_t t) {
  std::map<int, double> rates;
  auto it = last_.find(router);
  const bool first = it == last_.end();
  for (const auto& [id, now] : scrape) {
    RangeTelemetry before;
    if (!first) {
      auto b = it->second.counters.find(id);
      if (b != it->second.counters.end()) before = b->second;
    }
    const RangeTelemetry inc = Increases(now, before);
    totals_[id] = Combine(totals_[id], inc, 1.0);
    if (!first && t > it->second.t) {
      rates[id] = inc.requests() / static_cast<double>(t - it->second.t);
    }
  }
  if (!first && t > it->second.t) {
    // A range a router served before and no longer reports: that router
    // restarted and has not served it since (rate 0 from this router).
    for (const auto& [id, c] : it->second.counters) rates.emplace(id, 0.0);
  }
  last_[router] = Last{t, scrape};
  return rates;
}

void RouterTotals::Retain(const std::set<std::string>& keep) {
  for (auto it = last_.begin(); it != last_.end();) {
    it = keep.count(it->first) ? std::next(it) : last_.erase(it);
  }
}

void RouterTotals::RetainRanges(const std::set<int>& keep) {
  for (auto it = totals_.begin(); it != totals_.end();) {
    it = keep.count(it->first) ? std::next(it) : totals_.erase(it);
  }
}

void OwnerChanges::Observe(const std::map<int, RangeRouting>& ranges, int64_t t) {
  for (const auto& [id, r] : ranges) {
    auto it = last_.find(id);
    if (it != last_.end() && it->second.owner != r.owner) changed_at_[id] = t;
  }
  for (auto it = changed_at_.begin(); it != changed_at_.end();) {
    it = ranges.count(it->first) ? std::next(it) : changed_at_.erase(it);
  }
  last_ = ranges;
}

std::vector<int> OwnerChanges::Select(int64_t now, int64_t recent_seconds,
                                      size_t max_entries) const {
  // (priority, -changed_at, id): not stable first, then the newest changes.
  std::vector<std::tuple<int, int64_t, int>> cands;
  for (const auto& [id, r] : last_) {
    auto c = changed_at_.find(id);
    const bool recent = c != changed_at_.end() && now - c->second < recent_seconds;
    if (r.state != "stable") {
      cands.emplace_back(0, c == changed_at_.end() ? 0 : -c->second, id);
    } else if (recent) {
      cands.emplace_back(1, -c->second, id);
    }
  }
  std::sort(cands.begin(), cands.end());
  if (cands.size() > max_entries) cands.resize(max_entries);
  std::vector<int> ids;
  for (const auto& c : cands) ids.push_back(std::get<2>(c));
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace {
double Sig6(double v) {
  if (!std::isfinite(v) || v == 0) return 0;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return std::strtod(buf, nullptr);
}
int64_t Count(double v) { return std::isfinite(v) && v > 0 ? static_cast<int64_t>(v + 0.5) : 0; }
}  // namespace

Json RouterStatsToStatus(const RangeTelemetryMap& totals, const std::vector<int>& ids, int routers,
                         int64_t observed_at) {
  Json ranges = Json::array();
  for (int id : ids) {
    auto it = totals.find(id);
    const RangeTelemetry r = it == totals.end() ? RangeTelemetry{} : it->second;
    ranges.push_back({{"range", id},
                      {"requests", Count(r.requests())},
                      {"errors", Count(r.errors)},
                      {"latencySecondsSum", Sig6(r.latency_sum)},
                      {"shadowCompared", Count(r.shadow_compared())},
                      {"shadowMismatches", Count(r.shadow_mismatches())},
                      {"shadowOwnerSecondsSum", Sig6(r.shadow_owner_sum)},
                      {"shadowTargetSecondsSum", Sig6(r.shadow_target_sum)}});
  }
  return Json{{"observedAt", util::FormatRfc3339(observed_at)},
              {"routers", routers},
              {"ranges", std::move(ranges)}};
}

}  // namespace shardcast::forecast
