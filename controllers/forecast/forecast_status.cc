#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "controllers/forecast/state.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

double RoundSig(double v, int digits) {
  if (!std::isfinite(v) || v == 0) return 0;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
  return std::strtod(buf, nullptr);
}

bool MateriallyDifferent(const Json& a, const Json& b, double capacity) {
  if (!a.is_array() || !b.is_array() || a.size() != b.size()) return true;
  auto num = [](const Json& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_number() ? it->get<double>() : std::nan("");
  };
  for (size_t i = 0; i < a.size(); ++i) {
    const Json &x = a[i], &y = b[i];
    if (!x.is_object() || !y.is_object()) return true;
    if (x.value("pod", Json()) != y.value("pod", Json()) ||
        x.value("horizonSeconds", Json()) != y.value("horizonSeconds", Json()) ||
        x.value("trusted", Json()) != y.value("trusted", Json())) {
      return true;
    }
    double dp = std::fabs(num(x, "probExceed") - num(y, "probExceed"));
    if (!(dp < 0.05)) return true;
    auto load_differs = [capacity](double u, double v) {
      double tol = std::max(0.1 * std::max(std::fabs(u), std::fabs(v)), 0.02 * capacity);
      return !(std::fabs(u - v) <= tol);
    };
    for (const char* k : {"peak", "p90", "p99"}) {
      if (load_differs(num(x, k), num(y, k))) return true;
    }
    const bool tx = x.contains("timeToCrossingSeconds"), ty = y.contains("timeToCrossingSeconds");
    if (tx != ty) return true;
    if (tx) {
      double u = num(x, "timeToCrossingSeconds"), v = num(y, "timeToCrossingSeconds");
      if (!(std::fabs(u - v) <= std::max(60.0, 0.1 * std::max(u, v)))) return true;
    }
    const Json rx = x.value("rangesRest", Json()), ry = y.value("rangesRest", Json());
    if (rx.is_object() != ry.is_object()) return true;
    if (rx.is_object()) {
      if (rx.value("count", Json()) != ry.value("count", Json())) return true;
      for (const char* k : {"p50", "p90"}) {
        if (load_differs(num(rx, k), num(ry, k))) return true;
      }
    }
  }
  return false;
}

Json ForecastsToStatus(std::vector<PodForecast> forecasts,
                       const std::map<std::string, RangesRest>* rest) {
  std::sort(forecasts.begin(), forecasts.end(),
            [](const PodForecast& a, const PodForecast& b) { return a.pod < b.pod; });
  Json arr = Json::array();
  for (const auto& f : forecasts) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", std::clamp(f.prob_exceed, 0.0, 1.0));
    arr.push_back({{"pod", f.pod},
                   {"horizonSeconds", f.horizon_seconds},
                   {"peak", RoundSig(f.peak)},
                   {"p90", RoundSig(f.p90)},
                   {"p99", RoundSig(f.p99)},
                   {"probExceed", std::strtod(buf, nullptr)},
                   {"trusted", f.trusted}});
    if (f.time_to_crossing_seconds)
      arr.back()["timeToCrossingSeconds"] = *f.time_to_crossing_seconds;
    if (rest) {
      auto it = rest->find(f.pod);
      if (it != rest->end()) {
        arr.back()["rangesRest"] = {{"count", it->second.count},
                                    {"p50", RoundSig(it->second.p50, 3)},
                                    {"p90", RoundSig(it->second.p90, 3)}};
      }
    }
  }
  return arr;
}

}  // namespace shardcast::forecast