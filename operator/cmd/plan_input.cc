// Readers of `shardcast plan`'s inputs (see docs/planner.md for the formats).
#include "operator/cmd/plan_input.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "controllers/api/migration_policy.h"
#include "controllers/api/shardset.h"
#include "controllers/migrationpolicy/planner_policy.h"
#include "controllers/planner/schedule.h"

namespace shardcast::cli::plan_input {

namespace {

using nlohmann::json;
namespace pl = shardcast::planner;
using migrationpolicy::FillShardSetState;

// Thrown inside the parsers only; converted to a Result at their boundary.
struct FieldError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& field, const std::string& what) {
  throw FieldError{field + ": " + what};
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return unexpected(Error{path + ": cannot open"});
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// --- JSON helpers -----------------------------------------------------------

std::string Join(const std::string& field, const char* key) {
  return field.empty() ? key : field + "." + key;
}

double Num(const json& j, const std::string& field) {
  if (!j.is_number()) Fail(field, "must be a number");
  return j.get<double>();
}
double NumOr(const json& obj, const char* key, double def, const std::string& field) {
  if (!obj.contains(key) || obj[key].is_null()) return def;
  return Num(obj[key], Join(field, key));
}
std::string Str(const json& j, const std::string& field) {
  if (!j.is_string()) Fail(field, "must be a string");
  return j.get<std::string>();
}
bool BoolOr(const json& obj, const char* key, bool def, const std::string& field) {
  if (!obj.contains(key) || obj[key].is_null()) return def;
  if (!obj[key].is_boolean()) Fail(field + "." + key, "must be true or false");
  return obj[key].get<bool>();
}
int64_t Time(const json& j, const std::string& field) {
  if (j.is_number()) return j.get<int64_t>();
  auto t = pl::ParseRfc3339(Str(j, field));
  if (!t) Fail(field, t.error().message);
  return *t;
}
uint32_t U32(const json& j, const std::string& field) {
  double v = Num(j, field);
  if (v < 0 || v > 4294967295.0 || v != static_cast<double>(static_cast<uint64_t>(v))) {
    Fail(field, "must be an integer in [0, 4294967295]");
  }
  return static_cast<uint32_t>(v);
}
const json& Obj(const json& j, const char* key, const std::string& field) {
  if (!j.contains(key)) Fail(Join(field, key), "missing");
  if (!j[key].is_object()) Fail(Join(field, key), "must be an object");
  return j[key];
}
const json& Arr(const json& j, const char* key, const std::string& field) {
  if (!j.contains(key)) Fail(Join(field, key), "missing");
  if (!j[key].is_array()) Fail(Join(field, key), "must be an array");
  return j[key];
}

json ParseJson(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw FieldError{"invalid JSON at byte " + std::to_string(e.byte)};
  }
}

// --- state.json ---------------------------------------------------------------

// `shardSet` of state.json: {name | metadata, spec}, read by the one ShardSet
// parser (controllers/api); its errors are prefixed "shardSet.".
api::ShardSet ParseShardSetSection(const json& ss) {
  json obj = json::object();
  obj["metadata"] =
      ss.contains("metadata") && ss["metadata"].is_object() ? ss["metadata"] : json::object();
  if (ss.contains("name")) {
    obj["metadata"]["name"] = Str(ss["name"], "shardSet.name");
  } else if (!obj["metadata"].contains("name")) {
    Fail("shardSet.name", "missing");
  } else {
    Str(obj["metadata"]["name"], "shardSet.metadata.name");
  }
  obj["spec"] = ss.contains("spec") ? ss["spec"] : json::object();
  auto set = api::ParseShardSet(obj, api::ShardSetUse::kLoad);
  if (!set) throw FieldError{"shardSet." + set.error().message};
  return std::move(set).value();
}

// Runs `parse` on the text of `path`; a field error, a JSON or YAML shape
// error becomes an error naming the file.
template <typename T, typename Parse>
Result<T> ParseFile(const std::string& path, Parse parse) {
  auto text = ReadFile(path);
  if (!text) return unexpected(text.error());
  try {
    return parse(*text);
  } catch (const FieldError& e) {
    return unexpected(Error{path + ": " + e.message});
  } catch (const json::exception& e) {
    return unexpected(Error{path + ": unexpected JSON shape: " + std::string(e.what())});
  } catch (const YAML::Exception& e) {
    return unexpected(Error{path + ": unexpected YAML shape at line " +
                            std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

// `pods`: name, role (active|warm), ready, capacity (default: the ShardSet's).
void ParsePods(const json& pods, double capacity, std::vector<pl::Pod>* out) {
  for (std::size_t i = 0; i < pods.size(); ++i) {
    std::string f = "pods[" + std::to_string(i) + "]";
    const json& p = pods[i];
    if (!p.is_object()) Fail(f, "must be an object");
    pl::Pod pod;
    if (!p.contains("name")) Fail(f + ".name", "missing");
    pod.name = Str(p["name"], f + ".name");
    std::string role = p.contains("role") ? Str(p["role"], f + ".role") : "active";
    if (role == "active")
      pod.role = pl::PodRole::kActive;
    else if (role == "warm")
      pod.role = pl::PodRole::kWarm;
    else
      Fail(f + ".role", "must be active or warm, got \"" + role + "\"");
    pod.ready = BoolOr(p, "ready", true, f);
    pod.capacity = NumOr(p, "capacity", capacity, f);
    out->push_back(pod);
  }
}

pl::RangeState ParseRangeState(const json& r, const std::string& f) {
  std::string state = r.contains("state") ? Str(r["state"], f + ".state") : "stable";
  if (state == "stable") return pl::RangeState::kStable;
  if (state == "migrating") return pl::RangeState::kMigrating;
  if (state == "shadow") return pl::RangeState::kShadow;
  Fail(f + ".state", "must be stable, migrating or shadow, got \"" + state + "\"");
}

// `echoes`: pod names, or {pod, endpoint} objects.
void ParseEchoes(const json& r, const std::string& f, std::vector<std::string>* out) {
  if (!r.contains("echoes") || r["echoes"].is_null()) return;
  if (!r["echoes"].is_array()) Fail(f + ".echoes", "must be an array");
  for (std::size_t e = 0; e < r["echoes"].size(); ++e) {
    const json& echo = r["echoes"][e];
    std::string ef = f + ".echoes[" + std::to_string(e) + "]";
    if (echo.is_string())
      out->push_back(echo.get<std::string>());
    else if (echo.is_object() && echo.contains("pod"))
      out->push_back(Str(echo["pod"], ef + ".pod"));
    else
      Fail(ef, "must be a pod name or {pod, endpoint}");
  }
}

// `routing.ranges`: id, start, end, owner, state, echoes.
void ParseRanges(const json& ranges, std::vector<pl::Range>* out) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    std::string f = "routing.ranges[" + std::to_string(i) + "]";
    const json& r = ranges[i];
    if (!r.is_object()) Fail(f, "must be an object");
    pl::Range rg;
    for (const char* k : {"id", "start", "end", "owner"}) {
      if (!r.contains(k)) Fail(f + "." + k, "missing");
    }
    rg.id = U32(r["id"], f + ".id");
    rg.start = U32(r["start"], f + ".start");
    rg.end = U32(r["end"], f + ".end");
    rg.owner = Str(r["owner"], f + ".owner");
    rg.state = ParseRangeState(r, f);
    ParseEchoes(r, f, &rg.echoes);
    out->push_back(rg);
  }
}

// `rangeStats`: sizeBytes and readFraction of ranges named in routing.ranges.
void ParseRangeStats(const json& stats, std::vector<pl::Range>* ranges) {
  for (std::size_t i = 0; i < stats.size(); ++i) {
    std::string f = "rangeStats[" + std::to_string(i) + "]";
    if (!stats[i].contains("id")) Fail(f + ".id", "missing");
    uint32_t id = U32(stats[i]["id"], f + ".id");
    auto it = std::find_if(ranges->begin(), ranges->end(),
                           [&](const pl::Range& r) { return r.id == id; });
    if (it == ranges->end())
      Fail(f + ".id", "no range " + std::to_string(id) + " in routing.ranges");
    if (stats[i].contains("sizeBytes"))
      it->size_bytes = Num(stats[i]["sizeBytes"], f + ".sizeBytes");
    if (stats[i].contains("readFraction"))
      it->read_fraction = Num(stats[i]["readFraction"], f + ".readFraction");
  }
}

// `history`: past moves, last action per range and pod, in-flight
// migrations, since when the load has been low, and the median duration of
// completed promotions, and when the newest promotion started.
void ParseHistory(const json& h, pl::History* out) {
  if (h.contains("moves")) {
    const json& m = Arr(h, "moves", "history");
    for (std::size_t i = 0; i < m.size(); ++i)
      out->move_times.push_back(Time(m[i], "history.moves[" + std::to_string(i) + "]"));
  }
  for (const auto& [field, map] : {std::pair{"rangeLastAction", &out->range_last_action},
                                   std::pair{"rangeLastEcho", &out->range_last_echo}}) {
    if (!h.contains(field)) continue;
    for (const auto& [k, v] : Obj(h, field, "history").items()) {
      std::string f = std::string("history.") + field + "." + k;
      uint32_t id = 0;
      try {
        id = static_cast<uint32_t>(std::stoul(k));
      } catch (const std::exception&) {
        Fail(f, "key must be a range id");
      }
      (*map)[id] = Time(v, f);
    }
  }
  if (h.contains("podLastAction")) {
    for (const auto& [k, v] : Obj(h, "podLastAction", "history").items()) {
      out->pod_last_action[k] = Time(v, "history.podLastAction." + k);
    }
  }
  out->in_flight_migrations = static_cast<int>(NumOr(h, "inFlightMigrations", 0, "history"));
  if (h.contains("lowLoadSince") && !h["lowLoadSince"].is_null()) {
    out->low_load_since = Time(h["lowLoadSince"], "history.lowLoadSince");
  }
  if (h.contains("promotionSeconds") && !h["promotionSeconds"].is_null()) {
    out->promotion_seconds = Num(h["promotionSeconds"], "history.promotionSeconds");
  }
  if (h.contains("moveSeconds") && !h["moveSeconds"].is_null()) {
    out->move_seconds = Num(h["moveSeconds"], "history.moveSeconds");
  }
  if (h.contains("lastPromotion") && !h["lastPromotion"].is_null()) {
    out->last_promotion = Time(h["lastPromotion"], "history.lastPromotion");
  }
}

}  // namespace

// state.json: shardSet, pods, routing, and optionally rangeStats and history.
Result<pl::PlanInput> ParseState(const std::string& path) {
  return ParseFile<pl::PlanInput>(path, [](const std::string& text) {
    json j = ParseJson(text);
    if (!j.is_object()) Fail("(top level)", "must be an object");
    pl::PlanInput in;
    auto set = ParseShardSetSection(Obj(j, "shardSet", ""));
    FillShardSetState(set, &in.state);
    ParsePods(Arr(j, "pods", ""), set.capacity, &in.state.pods);
    ParseRanges(Arr(Obj(j, "routing", ""), "ranges", "routing"), &in.state.ranges);
    if (j.contains("rangeStats")) ParseRangeStats(Arr(j, "rangeStats", ""), &in.state.ranges);
    if (j.contains("history")) ParseHistory(Obj(j, "history", ""), &in.history);
    return in;
  });
}

namespace {

// --- policy.yaml -----------------------------------------------------------------

// YAML as JSON, so that the one MigrationPolicy parser reads the manifest:
// plain scalars become null, booleans or numbers when they read as such,
// quoted scalars stay strings.
json YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : n) out[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& e : n) out.push_back(YamlToJson(e));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      if (n.Tag() == "!") return v;  // quoted
      if (v == "~" || v == "null" || v == "Null" || v == "NULL") return nullptr;
      if (v == "true" || v == "True" || v == "TRUE") return true;
      if (v == "false" || v == "False" || v == "FALSE") return false;
      json num = json::parse(v, nullptr, /*allow_exceptions=*/false);
      if (!num.is_discarded() && num.is_number()) return num;
      return v;
    }
    default:
      return nullptr;
  }
}

}  // namespace

Result<pl::Policy> ParsePolicy(const std::string& path, double* horizon_seconds) {
  auto text = ReadFile(path);
  if (!text) return unexpected(text.error());
  try {
    YAML::Node doc;
    try {
      doc = YAML::Load(*text);
    } catch (const YAML::Exception& e) {
      throw FieldError{"invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg};
    }
    if (!doc.IsMap()) Fail("(top level)", "must be a MigrationPolicy manifest");
    if (doc["kind"] && doc["kind"].IsScalar() &&
        doc["kind"].as<std::string>() != "MigrationPolicy") {
      Fail("kind", "must be MigrationPolicy, got \"" + doc["kind"].as<std::string>() + "\"");
    }
    if (!doc["spec"]) Fail("spec", "missing");
    auto policy = api::ParseMigrationPolicy(YamlToJson(doc));
    if (!policy) throw FieldError{policy.error().message};
    *horizon_seconds = static_cast<double>(policy->horizon_seconds);
    return migrationpolicy::PlannerPolicy(*policy);
  } catch (const FieldError& e) {
    return unexpected(Error{path + ": " + e.message});
  } catch (const YAML::Exception& e) {
    return unexpected(Error{path + ": unexpected YAML shape at line " +
                            std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

namespace {

// --- forecast.json ------------------------------------------------------------------

// Calls each(entry, "list[i]") for every entry of the optional array
// j[list], which must be an object with the field `key`.
template <typename Each>
void ForEachEntry(const json& j, const char* list, const char* key, Each each) {
  if (!j.contains(list)) return;
  const json& entries = Arr(j, list, "");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::string f = std::string(list) + "[" + std::to_string(i) + "]";
    if (!entries[i].is_object()) Fail(f, "must be an object");
    if (!entries[i].contains(key)) Fail(f + "." + key, "missing");
    each(entries[i], f);
  }
}

pl::SeriesForecast ParseSeries(const json& s, const std::string& f) {
  pl::SeriesForecast out;
  out.observed = NumOr(s, "observed", 0, f);
  double peak = NumOr(s, "peak", out.observed, f);
  out.p50 = NumOr(s, "p50", peak, f);
  out.p90 = NumOr(s, "p90", out.p50, f);
  out.p99 = NumOr(s, "p99", out.p90, f);
  out.prob_exceed = NumOr(s, "probExceed", 0, f);
  if (s.contains("timeToCrossingSeconds") && !s["timeToCrossingSeconds"].is_null()) {
    out.time_to_crossing_seconds = Num(s["timeToCrossingSeconds"], f + ".timeToCrossingSeconds");
  }
  out.trusted = BoolOr(s, "trusted", true, f);
  return out;
}

}  // namespace

Result<pl::Forecasts> ParseForecast(const std::string& path, std::optional<int64_t>* generated_at) {
  return ParseFile<pl::Forecasts>(path, [&](const std::string& text) {
    json j = ParseJson(text);
    if (!j.is_object()) Fail("(top level)", "must be an object");
    pl::Forecasts out;
    out.horizon_seconds = NumOr(j, "horizonSeconds", 1800, "");
    if (j.contains("generatedAt")) *generated_at = Time(j["generatedAt"], "generatedAt");
    ForEachEntry(j, "pods", "pod", [&](const json& e, const std::string& f) {
      out.pods[Str(e["pod"], f + ".pod")] = ParseSeries(e, f);
    });
    ForEachEntry(j, "ranges", "id", [&](const json& e, const std::string& f) {
      out.ranges[U32(e["id"], f + ".id")] = ParseSeries(e, f);
    });
    return out;
  });
}

namespace {

// --- trace.csv (replay) ----------------------------------------------------------------

// A load trace: samples per pod (or per range id, as text), each sorted by
// time on use.
struct Trace {
  bool by_range = false;
  std::map<std::string, std::vector<std::pair<int64_t, double>>> series;
  std::optional<int64_t> latest;  // the latest sample time
};

int64_t TraceTime(const std::string& t, const std::string& f) {
  if (!t.empty() && t.find('T') == std::string::npos) {
    try {
      return std::stoll(t);
    } catch (const std::exception&) {
      Fail(f + " time", "not a timestamp");
    }
  }
  auto p = pl::ParseRfc3339(t);
  if (!p) Fail(f + " time", p.error().message);
  return *p;
}

double TraceLoad(const std::string& v, const std::string& f) {
  double load;
  try {
    std::size_t used = 0;
    load = std::stod(v, &used);
    if (used != v.size() || load < 0) throw std::invalid_argument("x");
  } catch (const std::exception&) {
    Fail(f + " load", "not a non-negative number: \"" + v + "\"");
  }
  return load;
}

// `time,pod,load` or `time,range,load` with that header; time in unix
// seconds or RFC 3339.
Trace ReadTrace(const std::string& text) {
  std::istringstream ss(text);
  std::string line;
  if (!std::getline(ss, line)) Fail("header", "empty file; want time,pod,load or time,range,load");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  Trace trace;
  if (line == "time,pod,load")
    trace.by_range = false;
  else if (line == "time,range,load")
    trace.by_range = true;
  else
    Fail("header", "want time,pod,load or time,range,load, got \"" + line + "\"");
  int line_no = 1;
  while (std::getline(ss, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::string f = "line " + std::to_string(line_no);
    auto c1 = line.find(','), c2 = line.find(',', c1 == std::string::npos ? 0 : c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) Fail(f, "want 3 columns");
    const int64_t ts = TraceTime(line.substr(0, c1), f);
    const double load = TraceLoad(line.substr(c2 + 1), f);
    trace.series[line.substr(c1 + 1, c2 - c1 - 1)].push_back({ts, load});
    if (!trace.latest || ts > *trace.latest) trace.latest = ts;
  }
  return trace;
}

// The window's samples and the last one; empty when none is in the window.
std::vector<double> Window(std::vector<std::pair<int64_t, double>>* samples, int64_t now,
                           double horizon, double* last) {
  std::sort(samples->begin(), samples->end());
  std::vector<double> window;
  for (const auto& [t, v] : *samples) {
    if (t <= now && now - t <= static_cast<int64_t>(horizon)) {
      window.push_back(v);
      *last = v;
    }
  }
  return window;
}

// Simple forecasts from a load trace: over the last horizon before `now`,
// p50/p90/p99 are the window's quantiles of the samples, observed is the last
// sample, and a pod's probExceed is the fraction of window samples above
// maxUtilization x capacity. Series with fewer than 5 samples are untrusted.
pl::Forecasts ForecastsFromTrace(Trace trace, const pl::PlanInput& in, double horizon) {
  int64_t now = in.now != 0 ? in.now : trace.latest.value_or(0);
  pl::Forecasts out;
  out.horizon_seconds = horizon;
  for (auto& [key, samples] : trace.series) {
    double last = 0;
    std::vector<double> window = Window(&samples, now, horizon, &last);
    if (window.empty()) continue;
    std::vector<double> sorted = window;
    std::sort(sorted.begin(), sorted.end());
    auto q = [&](double p) {
      return sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
    };
    pl::SeriesForecast f;
    f.observed = last;
    f.p50 = q(0.5);
    f.p90 = q(0.9);
    f.p99 = sorted.back();
    f.trusted = window.size() >= 5;
    if (trace.by_range) {
      uint32_t id = 0;
      try {
        id = static_cast<uint32_t>(std::stoul(key));
      } catch (const std::exception&) {
        Fail("range \"" + key + "\"", "not a range id");
      }
      out.ranges[id] = f;
    } else {
      auto pod = std::find_if(in.state.pods.begin(), in.state.pods.end(),
                              [&](const pl::Pod& p) { return p.name == key; });
      if (pod == in.state.pods.end()) Fail("pod \"" + key + "\"", "not in the state's pods");
      double limit = in.policy.max_utilization * pod->capacity;
      std::size_t over = 0;
      for (double v : window) over += v > limit ? 1 : 0;
      f.prob_exceed = static_cast<double>(over) / static_cast<double>(window.size());
      out.pods[key] = f;
    }
  }
  return out;
}

}  // namespace

Result<pl::Forecasts> ParseReplay(const std::string& path, const pl::PlanInput& in, double horizon,
                                  std::optional<int64_t>* latest) {
  return ParseFile<pl::Forecasts>(path, [&](const std::string& text) {
    Trace trace = ReadTrace(text);
    *latest = trace.latest;
    return ForecastsFromTrace(std::move(trace), in, horizon);
  });
}

}  // namespace shardcast::cli::plan_input
