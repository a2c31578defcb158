#include "controllers/forecast/range_forecast.h"

#include <algorithm>
#include <cmath>

namespace shardcast::forecast {

using Json = nlohmann::json;

std::vector<RangeForecast> SplitPodForecast(const PodForecast& pod, const std::vector<int>& ids,
                                            const std::map<int, double>& recent_rate) {
  std::vector<RangeForecast> out;
  if (ids.empty()) return out;
  std::vector<double> w;
  double total = 0;
  for (int id : ids) {
    auto it = recent_rate.find(id);
    const double r =
        it != recent_rate.end() && std::isfinite(it->second) && it->second > 0 ? it->second : 0.0;
    w.push_back(r);
    total += r;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    const double share = total > 0 ? w[i] / total : 1.0 / static_cast<double>(ids.size());
    RangeForecast f;
    f.range = ids[i];
    f.pod = pod.pod;
    f.p50 = share * pod.peak;
    f.p90 = share * pod.p90;
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
double Round3(double v) {  // 3 significant digits: enough for a planner, short in JSON
  return RoundSig(v, 3);
}
}  // namespace

Json RangeForecastsToStatus(std::vector<RangeForecast> all, size_t top_per_pod,
                            std::map<std::string, RangesRest>* rest) {
  std::sort(all.begin(), all.end(), [](const RangeForecast& a, const RangeForecast& b) {
    if (a.pod != b.pod) return a.pod < b.pod;
    if (a.p90 != b.p90) return a.p90 > b.p90;
    return a.range < b.range;
  });
  Json arr = Json::array();
  size_t in_pod = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const RangeForecast& f = all[i];
    if (i == 0 || all[i - 1].pod != f.pod) in_pod = 0;
    if (rest) (*rest)[f.pod];  // every pod with ranges gets an entry
    if (in_pod++ >= top_per_pod) {
      if (rest) {
        RangesRest& r = (*rest)[f.pod];
        ++r.count;
        r.p50 += f.p50;
        r.p90 += f.p90;
      }
      continue;
    }
    Json e = {{"range", f.range}, {"pod", f.pod}, {"p50", Round3(f.p50)}, {"p90", Round3(f.p90)}};
    if (f.read_share) e["readShare"] = std::round(std::clamp(*f.read_share, 0.0, 1.0) * 100) / 100;
    if (f.size_bytes) e["sizeBytes"] = *f.size_bytes;
    if (f.keys) e["keys"] = *f.keys;
    arr.push_back(std::move(e));
  }
  return arr;
}

bool RangeForecastsDiffer(const Json& a, const Json& b, double capacity) {
  if (!a.is_array() || !b.is_array() || a.size() != b.size()) return true;
  for (size_t i = 0; i < a.size(); ++i) {
    const Json &x = a[i], &y = b[i];
    if (!x.is_object() || !y.is_object()) return true;
    if (x.value("range", Json()) != y.value("range", Json()) ||
        x.value("pod", Json()) != y.value("pod", Json()) ||
        x.contains("sizeBytes") != y.contains("sizeBytes") ||
        x.contains("readShare") != y.contains("readShare")) {
      return true;
    }
    auto num = [](const Json& o, const char* k) {
      auto it = o.find(k);
      return it != o.end() && it->is_number() ? it->get<double>() : 0.0;
    };
    const double u = num(x, "p90"), v = num(y, "p90");
    const double tol = std::max(0.1 * std::max(std::fabs(u), std::fabs(v)), 0.02 * capacity);
    if (!(std::fabs(u - v) <= tol)) return true;
    // Sizes move by 10%, read shares by 0.1, before they are worth a write.
    const double a = num(x, "sizeBytes"), b = num(y, "sizeBytes");
    if (!(std::fabs(a - b) <= 0.1 * std::max(a, b))) return true;
    if (!(std::fabs(num(x, "readShare") - num(y, "readShare")) < 0.1)) return true;
  }
  return false;
}

bool StatusDiffers(const Json& next, const Json& current, double capacity) {
  auto part = [](const Json& o, const char* k) {
    return o.is_object() ? o.value(k, Json()) : Json();
  };
  if (MateriallyDifferent(part(next, "forecasts"), part(current, "forecasts"), capacity))
    return true;
  const Json rn = part(next, "rangeForecasts"), rc = part(current, "rangeForecasts");
  if (rn.is_null() != rc.is_null()) return true;
  if (!rn.is_null() && RangeForecastsDiffer(rn, rc, capacity)) return true;
  const Json sn = part(next, "routerStats"), sc = part(current, "routerStats");
  if (sn.is_null() != sc.is_null()) return true;
  if (sn.is_null()) return false;
  return part(sn, "routers") != part(sc, "routers") || part(sn, "ranges") != part(sc, "ranges");
}

}  // namespace shardcast::forecast
