#include "controllers/forecast/settings.h"

#include <algorithm>
#include <cmath>

#include "controllers/forecast/quantity.h"
#include "predictor/parse.h"

namespace shardcast::forecast {
namespace {

Unexpected<Error> Bad(const std::string& field, const std::string& why) {
  return unexpected(Error{field + ": " + why});
}

const Json* Find(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<int64_t> Duration(const Json& obj, const char* key, const std::string& field,
                         int64_t fallback, int64_t min_s) {
  const Json* v = Find(obj, key);
  if (!v) return fallback;
  if (!v->is_string()) return Bad(field, "must be a duration string like 5m");
  auto d = ParseDurationSeconds(v->get<std::string>(), field);
  if (!d) return unexpected(d.error());
  if (*d < min_s) return Bad(field, "must be at least " + std::to_string(min_s) + "s");
  return *d;
}

std::string Str(const Json& obj, const char* key) {
  const Json* v = Find(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

Result<SetSettings> ParseShardSet(const Json& obj) {
  SetSettings s;
  if (!obj.is_object()) return Bad("ShardSet", "not an object");
  const Json& md = obj.value("metadata", Json::object());
  s.ns = Str(md, "namespace");
  s.name = Str(md, "name");
  s.uid = Str(md, "uid");
  if (s.name.empty()) return Bad("metadata.name", "missing");
  const Json spec = obj.value("spec", Json::object());
  if (!spec.is_object()) return Bad("spec", "not an object");
  const Json cap = spec.value("capacity", Json::object());
  std::string metric = cap.is_object() ? cap.value("metric", std::string("CPU")) : "CPU";
  if (metric == "CPU") {
    s.metric = CapacityMetric::kCpu;
    const Json* c = Find(cap, "cpuMillis");
    if (c) {
      if (!c->is_number() || c->get<double>() <= 0) {
        return Bad("spec.capacity.cpuMillis", "must be a positive number");
      }
      s.capacity = c->get<double>();
    } else {
      s.capacity = 1000;
    }
  } else if (metric == "RequestsPerSecond") {
    s.metric = CapacityMetric::kRequestsPerSecond;
    const Json* c = Find(cap, "requestsPerSecond");
    if (!c || !c->is_number() || c->get<double>() <= 0) {
      return Bad("spec.capacity.requestsPerSecond", "must be a positive number when metric is RequestsPerSecond");
    }
    s.capacity = c->get<double>();
  } else {
    return Bad("spec.capacity.metric", "must be CPU or RequestsPerSecond, not '" + metric + "'");
  }
  const Json met = spec.value("metrics", Json::object());
  if (const Json* p = Find(met, "port")) {
    if (!p->is_number_integer() || p->get<int64_t>() < 1 || p->get<int64_t>() > 65535) {
      return Bad("spec.metrics.port", "must be an integer in 1..65535");
    }
    s.metrics_port = static_cast<int>(p->get<int64_t>());
  }
  if (const Json* p = Find(met, "path")) {
    if (!p->is_string() || p->get<std::string>().empty() || p->get<std::string>()[0] != '/') {
      return Bad("spec.metrics.path", "must be an absolute path like /metrics");
    }
    s.metrics_path = p->get<std::string>();
  }
  const Json routing = spec.value("routing", Json::object());
  if (const Json* p = Find(routing, "configMapName")) {
    if (!p->is_string()) return Bad("spec.routing.configMapName", "must be a string");
    s.routing_configmap = p->get<std::string>();
  }
  return s;
}

Result<PolicySettings> ParsePolicy(const Json& obj) {
  PolicySettings p;
  if (!obj.is_object()) return Bad("MigrationPolicy", "not an object");
  p.policy = Str(obj.value("metadata", Json::object()), "name");
  const Json spec = obj.value("spec", Json::object());
  const Json fc = spec.is_object() ? spec.value("forecast", Json::object()) : Json::object();
  auto step = Duration(fc, "step", "spec.forecast.step", 60, 1);
  if (!step) return unexpected(step.error());
  p.step_seconds = *step;
  auto horizon = Duration(fc, "horizon", "spec.forecast.horizon", 1800, 1);
  if (!horizon) return unexpected(horizon.error());
  p.horizon_seconds = *horizon;
  if (p.horizon_seconds < p.step_seconds) {
    return Bad("spec.forecast.horizon", "must be at least spec.forecast.step");
  }
  std::string seasonality = Str(fc, "seasonality");
  if (seasonality == "Manual") {
    p.seasons_seconds.clear();
    const Json* sp = Find(fc, "seasonalPeriods");
    if (sp && !sp->is_array()) return Bad("spec.forecast.seasonalPeriods", "must be a list");
    if (sp) {
      for (size_t i = 0; i < sp->size(); ++i) {
        std::string f = "spec.forecast.seasonalPeriods[" + std::to_string(i) + "]";
        if (!(*sp)[i].is_string()) return Bad(f, "must be a duration string like 24h");
        auto d = ParseDurationSeconds((*sp)[i].get<std::string>(), f);
        if (!d) return unexpected(d.error());
        if (*d <= 0) return Bad(f, "must be positive");
        p.seasons_seconds.push_back(*d);
      }
    }
  } else if (!seasonality.empty() && seasonality != "Auto") {
    return Bad("spec.forecast.seasonality", "must be Auto or Manual, not '" + seasonality + "'");
  }
  const Json th = spec.is_object() ? spec.value("thresholds", Json::object()) : Json::object();
  if (const Json* m = Find(th, "maxUtilization")) {
    if (!m->is_number() || m->get<double>() <= 0 || m->get<double>() > 1) {
      return Bad("spec.thresholds.maxUtilization", "must be a number in (0, 1]");
    }
    p.max_utilization = m->get<double>();
  }
  if (const Json* ev = Find(spec, "events")) {
    if (!ev->is_array()) return Bad("spec.events", "must be a list");
    for (size_t i = 0; i < ev->size(); ++i) {
      const Json& e = (*ev)[i];
      std::string f = "spec.events[" + std::to_string(i) + "]";
      if (!e.is_object()) return Bad(f, "must be an object");
      predictor::LoadEvent le;
      le.name = Str(e, "name");
      const Json* start = Find(e, "start");
      if (!start || !start->is_string()) return Bad(f + ".start", "must be an RFC3339 time");
      auto t = predictor::ParseTimestamp(start->get<std::string>());
      if (!t) return Bad(f + ".start", t.error().message);
      le.start = *t;
      auto d = Duration(e, "duration", f + ".duration", 0, 1);
      if (!d) return unexpected(d.error());
      if (*d <= 0) return Bad(f + ".duration", "required and positive");
      le.duration = *d;
      const Json* m = Find(e, "multiplier");
      if (m && (!m->is_number() || m->get<double>() < 0 || !std::isfinite(m->get<double>()))) {
        return Bad(f + ".multiplier", "must be a non-negative number");
      }
      le.multiplier = m ? m->get<double>() : 1.0;
      p.events.push_back(le);
    }
  }
  return p;
}

bool SelectorMatches(const Json& selector, const Json& labels) {
  if (selector.is_null()) return true;
  if (!selector.is_object()) return false;
  auto label = [&](const std::string& k) -> const Json* {
    if (!labels.is_object()) return nullptr;
    auto it = labels.find(k);
    return it != labels.end() && it->is_string() ? &*it : nullptr;
  };
  if (const Json* ml = Find(selector, "matchLabels")) {
    if (!ml->is_object()) return false;
    for (const auto& [k, v] : ml->items()) {
      const Json* l = label(k);
      if (!l || *l != v) return false;
    }
  }
  if (const Json* me = Find(selector, "matchExpressions")) {
    if (!me->is_array()) return false;
    for (const Json& e : *me) {
      if (!e.is_object()) return false;
      std::string key = Str(e, "key"), op = Str(e, "operator");
      const Json values = e.value("values", Json::array());
      const Json* l = label(key);
      bool in = false;
      if (l && values.is_array()) {
        in = std::find(values.begin(), values.end(), *l) != values.end();
      }
      if (op == "In") {
        if (!in) return false;
      } else if (op == "NotIn") {
        if (in) return false;
      } else if (op == "Exists") {
        if (!l) return false;
      } else if (op == "DoesNotExist") {
        if (l) return false;
      } else {
        return false;
      }
    }
  }
  return true;
}

const Json* SelectPolicy(const Json& set, const std::vector<const Json*>& policies) {
  const Json labels = set.value("metadata", Json::object()).value("labels", Json::object());
  const Json* best = nullptr;
  auto key = [](const Json* p) {
    const Json md = p->value("metadata", Json::object());
    return std::make_pair(Str(md, "creationTimestamp"), Str(md, "name"));
  };
  for (const Json* p : policies) {
    if (!p || !p->is_object()) continue;
    const Json spec = p->value("spec", Json::object());
    if (!spec.is_object() || !spec.contains("shardSetSelector")) continue;
    if (!SelectorMatches(spec["shardSetSelector"], labels)) continue;
    if (!best || key(p) < key(best)) best = p;
  }
  return best;
}

}  // namespace shardcast::forecast
