#include "controllers/forecast/range_sources.h"

#include <algorithm>
#include <set>

#include "controllers/shardset/shardset.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

Result<RoutingView> ParseRoutingView(const std::string& routing_json) {
  auto doc = shardset::ParseRoutingDocument(routing_json);
  if (!doc) return unexpected(doc.error());
  RoutingView v;
  for (const auto& r : doc->ranges) {
    if (r.id > 999999999u) continue;  // ids as ParseRangeId reads them
    const int id = static_cast<int>(r.id);
    v.ranges[id] = RangeRouting{r.owner, r.state.empty() ? "stable" : r.state};
    v.bounds[id] = {r.start, r.end};
    if (!r.owner.empty()) v.owned[r.owner].push_back(id);
  }
  for (auto& [pod, ids] : v.owned) std::sort(ids.begin(), ids.end());
  return v;
}

std::vector<RouterPod> ReadyRouters(const Json& pod_list, const util::LabelSelector& selector) {
  std::vector<RouterPod> out;
  if (!pod_list.is_object() || !pod_list.contains("items") || !pod_list["items"].is_array())
    return out;
  for (const Json& p : pod_list["items"]) {
    if (!p.is_object()) continue;
    const Json md = p.value("metadata", Json::object());
    if (!md.is_object() || md.contains("deletionTimestamp")) continue;
    if (!selector.Matches(util::LabelsOf(p))) continue;
    const Json st = p.value("status", Json::object());
    if (!st.is_object()) continue;
    bool ready = false;
    const Json conds = st.value("conditions", Json::array());
    if (conds.is_array()) {
      for (const Json& c : conds) {
        if (c.is_object() && c.value("type", "") == "Ready" && c.value("status", "") == "True")
          ready = true;
      }
    }
    const std::string ip = st.value("podIP", std::string());
    if (!ready || ip.empty()) continue;
    out.push_back({md.value("name", std::string()), ip});
  }
  std::sort(out.begin(), out.end(),
            [](const RouterPod& a, const RouterPod& b) { return a.name < b.name; });
  return out;
}

std::string MatchLabelsQuery(const Json& selector) {
  std::string q;
  if (!selector.is_object() || !selector.contains("matchLabels") ||
      !selector["matchLabels"].is_object())
    return q;
  for (auto it = selector["matchLabels"].begin(); it != selector["matchLabels"].end(); ++it) {
    if (!it.value().is_string()) continue;
    if (!q.empty()) q += ",";
    q += it.key() + "=" + it.value().get<std::string>();
  }
  return q;
}

RouterRound ScrapeRouters(HttpGetter& http, RouterTotals& totals,
                          const std::vector<RouterPod>& routers, int port,
                          std::chrono::milliseconds timeout, std::chrono::milliseconds budget,
                          const std::function<std::chrono::milliseconds()>& elapsed,
                          const std::function<int64_t()>& now) {
  RouterRound round;
  std::set<std::string> names;
  for (const auto& r : routers) {
    names.insert(r.name);
    const auto left = budget - elapsed();
    if (left <= std::chrono::milliseconds(0)) {
      round.failures.push_back(r.name + ": skipped, the round's scrape budget is spent");
      continue;
    }
    auto body = http.get(r.ip, port, "/metrics", std::min(timeout, left));
    const int64_t at = now();
    if (!body) {
      round.failures.push_back(r.name + ": " + body.error().message);
      continue;
    }
    std::vector<std::string> errors;
    RangeTelemetryMap scrape = ParseRouterMetrics(*body, &errors);
    if (!errors.empty()) {
      round.failures.push_back(r.name + ": " + std::to_string(errors.size()) +
                               " bad line(s), first: " + errors.front());
    }
    ++round.scraped;
    for (const auto& [id, rate] : totals.Add(r.name, scrape, at)) round.range_rates[id] += rate;
  }
  totals.Retain(names);
  return round;
}

std::string RangesRequestBody(const std::vector<int>& ids, const RoutingView& routing) {
  Json arr = Json::array();
  for (int id : ids) {
    if (id < 0 || id >= 4096 || arr.size() >= 4096) continue;
    auto it = routing.bounds.find(id);
    if (it == routing.bounds.end()) continue;
    arr.push_back({{"id", id}, {"start", it->second.first}, {"end", it->second.second}});
  }
  return Json{{"ranges", arr}}.dump();
}

Result<std::map<int, RangeSize>> ParseRangesAnswer(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return unexpected(Error{"answer: not a JSON object"});
  if (!j.contains("ranges") || !j["ranges"].is_array())
    return unexpected(Error{"answer.ranges: missing or not a list"});
  std::map<int, RangeSize> out;
  for (size_t i = 0; i < j["ranges"].size(); ++i) {
    const Json& r = j["ranges"][i];
    const std::string f = "answer.ranges[" + std::to_string(i) + "]";
    if (!r.is_object() || !r.contains("id") || !r["id"].is_number_integer())
      return unexpected(Error{f + ".id: missing or not an integer"});
    const int64_t id = r["id"].get<int64_t>();
    if (id < 0 || id >= 4096) return unexpected(Error{f + ".id: must be in 0..4095"});
    RangeSize s;
    using Field = std::pair<const char*, int64_t*>;
    for (auto [key, dst] : {Field{"keys", &s.keys}, Field{"bytes", &s.bytes}}) {
      if (!r.contains(key) || !r[key].is_number() || r[key].get<double>() < 0)
        return unexpected(Error{f + "." + key + ": missing or not a number >= 0"});
      *dst = static_cast<int64_t>(r[key].get<double>());
    }
    out[static_cast<int>(id)] = s;
  }
  return out;
}

}  // namespace shardcast::forecast
