// `shardcast plan` (see docs/planner.md for the input formats).
#include "operator/cmd/plan.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "controllers/api/migration_policy.h"
#include "controllers/api/shardset.h"
#include "controllers/migrationpolicy/planner_policy.h"
#include "controllers/planner/planner.h"
#include "controllers/planner/schedule.h"
#include "util/expected.h"

namespace shardcast::cli {

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

Result<pl::PlanInput> ParseState(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return unexpected(text.error());
  try {
    json j = ParseJson(*text);
    if (!j.is_object()) Fail("(top level)", "must be an object");
    pl::PlanInput in;
    const json& ss = Obj(j, "shardSet", "");
    auto set = ParseShardSetSection(ss);
    FillShardSetState(set, &in.state);
    const double capacity = set.capacity;
    const json& pods = Arr(j, "pods", "");
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
      in.state.pods.push_back(pod);
    }
    const json& routing = Obj(j, "routing", "");
    const json& ranges = Arr(routing, "ranges", "routing");
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
      std::string state = r.contains("state") ? Str(r["state"], f + ".state") : "stable";
      if (state == "stable")
        rg.state = pl::RangeState::kStable;
      else if (state == "migrating")
        rg.state = pl::RangeState::kMigrating;
      else if (state == "shadow")
        rg.state = pl::RangeState::kShadow;
      else
        Fail(f + ".state", "must be stable, migrating or shadow, got \"" + state + "\"");
      if (r.contains("echoes") && !r["echoes"].is_null()) {
        if (!r["echoes"].is_array()) Fail(f + ".echoes", "must be an array");
        for (std::size_t e = 0; e < r["echoes"].size(); ++e) {
          const json& echo = r["echoes"][e];
          std::string ef = f + ".echoes[" + std::to_string(e) + "]";
          if (echo.is_string())
            rg.echoes.push_back(echo.get<std::string>());
          else if (echo.is_object() && echo.contains("pod"))
            rg.echoes.push_back(Str(echo["pod"], ef + ".pod"));
          else
            Fail(ef, "must be a pod name or {pod, endpoint}");
        }
      }
      in.state.ranges.push_back(rg);
    }
    if (j.contains("rangeStats")) {
      const json& stats = Arr(j, "rangeStats", "");
      for (std::size_t i = 0; i < stats.size(); ++i) {
        std::string f = "rangeStats[" + std::to_string(i) + "]";
        if (!stats[i].contains("id")) Fail(f + ".id", "missing");
        uint32_t id = U32(stats[i]["id"], f + ".id");
        auto it = std::find_if(in.state.ranges.begin(), in.state.ranges.end(),
                               [&](const pl::Range& r) { return r.id == id; });
        if (it == in.state.ranges.end())
          Fail(f + ".id", "no range " + std::to_string(id) + " in routing.ranges");
        if (stats[i].contains("sizeBytes"))
          it->sizeBytes = Num(stats[i]["sizeBytes"], f + ".sizeBytes");
        if (stats[i].contains("readFraction"))
          it->readFraction = Num(stats[i]["readFraction"], f + ".readFraction");
      }
    }
    if (j.contains("history")) {
      const json& h = Obj(j, "history", "");
      if (h.contains("moves")) {
        const json& m = Arr(h, "moves", "history");
        for (std::size_t i = 0; i < m.size(); ++i)
          in.history.moveTimes.push_back(Time(m[i], "history.moves[" + std::to_string(i) + "]"));
      }
      if (h.contains("rangeLastAction")) {
        for (const auto& [k, v] : Obj(h, "rangeLastAction", "history").items()) {
          std::string f = "history.rangeLastAction." + k;
          uint32_t id = 0;
          try {
            id = static_cast<uint32_t>(std::stoul(k));
          } catch (const std::exception&) {
            Fail(f, "key must be a range id");
          }
          in.history.rangeLastAction[id] = Time(v, f);
        }
      }
      if (h.contains("podLastAction")) {
        for (const auto& [k, v] : Obj(h, "podLastAction", "history").items()) {
          in.history.podLastAction[k] = Time(v, "history.podLastAction." + k);
        }
      }
      in.history.inFlightMigrations =
          static_cast<int>(NumOr(h, "inFlightMigrations", 0, "history"));
      if (h.contains("lowLoadSince") && !h["lowLoadSince"].is_null()) {
        in.history.lowLoadSince = Time(h["lowLoadSince"], "history.lowLoadSince");
      }
    }
    return in;
  } catch (const FieldError& e) {
    return unexpected(Error{path + ": " + e.message});
  } catch (const json::exception& e) {
    return unexpected(Error{path + ": unexpected JSON shape: " + std::string(e.what())});
  } catch (const YAML::Exception& e) {
    return unexpected(Error{path + ": unexpected YAML shape at line " +
                            std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

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

Result<pl::Policy> ParsePolicy(const std::string& path, double* horizonSeconds) {
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
    *horizonSeconds = static_cast<double>(policy->horizon_seconds);
    return migrationpolicy::PlannerPolicy(*policy);
  } catch (const FieldError& e) {
    return unexpected(Error{path + ": " + e.message});
  } catch (const YAML::Exception& e) {
    return unexpected(Error{path + ": unexpected YAML shape at line " +
                            std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

// --- forecast.json ------------------------------------------------------------------

pl::SeriesForecast ParseSeries(const json& s, const std::string& f) {
  pl::SeriesForecast out;
  out.observed = NumOr(s, "observed", 0, f);
  double peak = NumOr(s, "peak", out.observed, f);
  out.p50 = NumOr(s, "p50", peak, f);
  out.p90 = NumOr(s, "p90", out.p50, f);
  out.p99 = NumOr(s, "p99", out.p90, f);
  out.probExceed = NumOr(s, "probExceed", 0, f);
  if (s.contains("timeToCrossingSeconds") && !s["timeToCrossingSeconds"].is_null()) {
    out.timeToCrossingSeconds = Num(s["timeToCrossingSeconds"], f + ".timeToCrossingSeconds");
  }
  out.trusted = BoolOr(s, "trusted", true, f);
  return out;
}

Result<pl::Forecasts> ParseForecast(const std::string& path, std::optional<int64_t>* generatedAt) {
  auto text = ReadFile(path);
  if (!text) return unexpected(text.error());
  try {
    json j = ParseJson(*text);
    if (!j.is_object()) Fail("(top level)", "must be an object");
    pl::Forecasts out;
    out.horizonSeconds = NumOr(j, "horizonSeconds", 1800, "");
    if (j.contains("generatedAt")) *generatedAt = Time(j["generatedAt"], "generatedAt");
    if (j.contains("pods")) {
      const json& pods = Arr(j, "pods", "");
      for (std::size_t i = 0; i < pods.size(); ++i) {
        std::string f = "pods[" + std::to_string(i) + "]";
        if (!pods[i].is_object()) Fail(f, "must be an object");
        if (!pods[i].contains("pod")) Fail(f + ".pod", "missing");
        out.pods[Str(pods[i]["pod"], f + ".pod")] = ParseSeries(pods[i], f);
      }
    }
    if (j.contains("ranges")) {
      const json& ranges = Arr(j, "ranges", "");
      for (std::size_t i = 0; i < ranges.size(); ++i) {
        std::string f = "ranges[" + std::to_string(i) + "]";
        if (!ranges[i].is_object()) Fail(f, "must be an object");
        if (!ranges[i].contains("id")) Fail(f + ".id", "missing");
        out.ranges[U32(ranges[i]["id"], f + ".id")] = ParseSeries(ranges[i], f);
      }
    }
    return out;
  } catch (const FieldError& e) {
    return unexpected(Error{path + ": " + e.message});
  } catch (const json::exception& e) {
    return unexpected(Error{path + ": unexpected JSON shape: " + std::string(e.what())});
  } catch (const YAML::Exception& e) {
    return unexpected(Error{path + ": unexpected YAML shape at line " +
                            std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

// --- trace.csv (replay) ----------------------------------------------------------------

// Simple forecasts from a load trace: over the last horizon before `now`,
// p50/p90/p99 are the window's quantiles of the samples, observed is the last
// sample, and a pod's probExceed is the fraction of window samples above
// maxUtilization x capacity. Series with fewer than 5 samples are untrusted.
Result<pl::Forecasts> ParseReplay(const std::string& path, const pl::PlanInput& in, double horizon,
                                  std::optional<int64_t>* latest) {
  auto text = ReadFile(path);
  if (!text) return unexpected(text.error());
  try {
    std::istringstream ss(*text);
    std::string line;
    if (!std::getline(ss, line))
      Fail("header", "empty file; want time,pod,load or time,range,load");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    bool byRange;
    if (line == "time,pod,load")
      byRange = false;
    else if (line == "time,range,load")
      byRange = true;
    else
      Fail("header", "want time,pod,load or time,range,load, got \"" + line + "\"");
    std::map<std::string, std::vector<std::pair<int64_t, double>>> series;
    int lineNo = 1;
    while (std::getline(ss, line)) {
      ++lineNo;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      std::string f = "line " + std::to_string(lineNo);
      auto c1 = line.find(','), c2 = line.find(',', c1 == std::string::npos ? 0 : c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) Fail(f, "want 3 columns");
      std::string t = line.substr(0, c1), key = line.substr(c1 + 1, c2 - c1 - 1),
                  v = line.substr(c2 + 1);
      int64_t ts;
      if (!t.empty() && t.find('T') == std::string::npos) {
        try {
          ts = std::stoll(t);
        } catch (const std::exception&) {
          Fail(f + " time", "not a timestamp");
        }
      } else {
        auto p = pl::ParseRfc3339(t);
        if (!p) Fail(f + " time", p.error().message);
        ts = *p;
      }
      double load;
      try {
        std::size_t used = 0;
        load = std::stod(v, &used);
        if (used != v.size() || load < 0) throw std::invalid_argument("x");
      } catch (const std::exception&) {
        Fail(f + " load", "not a non-negative number: \"" + v + "\"");
      }
      series[key].push_back({ts, load});
      if (!*latest || ts > **latest) *latest = ts;
    }
    int64_t now = in.now != 0 ? in.now : latest->value_or(0);
    pl::Forecasts out;
    out.horizonSeconds = horizon;
    for (auto& [key, samples] : series) {
      std::sort(samples.begin(), samples.end());
      std::vector<double> window;
      double last = 0;
      for (const auto& [t, v] : samples) {
        if (t <= now && now - t <= static_cast<int64_t>(horizon)) {
          window.push_back(v);
          last = v;
        }
      }
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
      if (byRange) {
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
        double limit = in.policy.maxUtilization * pod->capacity;
        std::size_t over = 0;
        for (double v : window) over += v > limit ? 1 : 0;
        f.probExceed = static_cast<double>(over) / static_cast<double>(window.size());
        out.pods[key] = f;
      }
    }
    return out;
  } catch (const FieldError& e) {
    return unexpected(Error{path + ": " + e.message});
  } catch (const json::exception& e) {
    return unexpected(Error{path + ": unexpected JSON shape: " + std::string(e.what())});
  } catch (const YAML::Exception& e) {
    return unexpected(Error{path + ": unexpected YAML shape at line " +
                            std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

// --- output -------------------------------------------------------------------------------

std::string Pct(double u) {
  char b[16];
  std::snprintf(b, sizeof b, "%.0f%%", u * 100);
  return b;
}

std::string Describe(const pl::Action& a) {
  std::string s = pl::ActionTypeName(a.type);
  switch (a.type) {
    case pl::ActionType::kPromote:
    case pl::ActionType::kDemote:
    case pl::ActionType::kScaleIn:
      return s + " " + a.pod;
    case pl::ActionType::kMove:
      return s + " range " + std::to_string(*a.range) + " " + a.from + " -> " + a.to;
    case pl::ActionType::kAddEcho:
    case pl::ActionType::kRemoveEcho:
      return s + " range " + std::to_string(*a.range) + " echo on " + a.pod;
    case pl::ActionType::kSplit:
      return s + " range " + std::to_string(*a.range) + " at key " + std::to_string(*a.splitAt) +
             " (upper half -> range " + std::to_string(*a.other) + ")";
    case pl::ActionType::kMerge:
      return s + " range " + std::to_string(*a.other) + " into range " + std::to_string(*a.range);
  }
  return s;
}

json ToJson(const pl::Plan& p, const pl::PlanInput& in) {
  json j;
  j["id"] = p.id;
  j["shardSet"] = in.state.name;
  j["now"] = pl::FormatRfc3339(in.now);
  j["moves"] = p.moves;
  j["movedLowerBound"] = p.movedLowerBound;
  j["actions"] = json::array();
  for (const auto& a : p.actions) {
    json x;
    x["type"] = pl::ActionTypeName(a.type);
    if (a.range) x["range"] = *a.range;
    if (a.other) x[a.type == pl::ActionType::kSplit ? "newRange" : "absorbedRange"] = *a.other;
    if (a.splitAt) x["splitAt"] = *a.splitAt;
    if (!a.pod.empty()) x["pod"] = a.pod;
    if (!a.from.empty()) x["from"] = a.from;
    if (!a.to.empty()) x["to"] = a.to;
    if (a.type == pl::ActionType::kMove) x["score"] = a.score;
    x["reason"] = a.reason;
    x["effect"] = json::array();
    for (const auto& e : a.effect)
      x["effect"].push_back({{"pod", e.pod}, {"before", e.before}, {"after", e.after}});
    j["actions"].push_back(x);
  }
  j["pods"] = json::array();
  for (const auto& r : p.pods) {
    j["pods"].push_back({{"pod", r.pod},
                         {"role", r.role == pl::PodRole::kActive ? "active" : "warm"},
                         {"ready", r.ready},
                         {"capacity", r.capacity},
                         {"observed", r.observed},
                         {"before", r.before},
                         {"after", r.after},
                         {"imbalance", r.imbalance},
                         {"rangesBefore", r.rangesBefore},
                         {"rangesAfter", r.rangesAfter}});
  }
  for (const char* k : {"blocked", "notes"}) {
    const auto& list = std::string(k) == "blocked" ? p.blocked : p.notes;
    j[k] = json::array();
    for (const auto& f : list) j[k].push_back({{"subject", f.subject}, {"message", f.message}});
  }
  return j;
}

void PrintText(const pl::Plan& p, const pl::PlanInput& in, std::ostream& os) {
  os << "ShardSet " << in.state.name << " at " << pl::FormatRfc3339(in.now) << ": plan " << p.id
     << " (" << p.actions.size() << " actions, " << p.moves << " moves; lower bound "
     << p.movedLowerBound << ")\n";
  os << "\nActions:\n";
  if (p.actions.empty()) os << "  (none)\n";
  for (std::size_t i = 0; i < p.actions.size(); ++i) {
    const auto& a = p.actions[i];
    os << "  " << i + 1 << ". " << Describe(a) << "\n";
    std::string eff;
    for (const auto& e : a.effect)
      eff += (eff.empty() ? "" : ", ") + e.pod + " " + Pct(e.before) + " -> " + Pct(e.after);
    if (!eff.empty()) os << "     effect: " << eff << "\n";
    os << "     reason: " << a.reason << "\n";
  }
  if (!p.blocked.empty()) {
    os << "\nBlocked:\n";
    for (const auto& f : p.blocked) os << "  - " << f.subject << ": " << f.message << "\n";
  }
  if (!p.notes.empty()) {
    os << "\nNotes:\n";
    for (const auto& f : p.notes) os << "  - " << f.subject << ": " << f.message << "\n";
  }
  os << "\nPods (predicted utilization at confidence " << in.policy.confidence << "):\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-20s %-6s %-5s %9s %8s %7s %7s %9s %s\n", "POD", "ROLE",
                "READY", "CAPACITY", "OBSERVED", "BEFORE", "AFTER", "IMBALANCE", "RANGES");
  os << line;
  for (const auto& r : p.pods) {
    std::snprintf(line, sizeof line, "  %-20s %-6s %-5s %9.0f %8s %7s %7s %+8.0f%% %zu -> %zu\n",
                  r.pod.c_str(), r.role == pl::PodRole::kActive ? "active" : "warm",
                  r.ready ? "yes" : "no", r.capacity, Pct(r.observed).c_str(),
                  Pct(r.before).c_str(), Pct(r.after).c_str(), r.imbalance * 100, r.rangesBefore,
                  r.rangesAfter);
    os << line;
  }
}

const char* kUsage =
    "usage: shardcast plan --shardset state.json --policy policy.yaml\n"
    "                      [--forecast forecast.json | --replay trace.csv]\n"
    "                      [--now RFC3339] [-o text|json]\n";

}  // namespace

static int PlanMainImpl(int argc, char** argv);

int PlanMain(int argc, char** argv) {
  try {
    return PlanMainImpl(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "shardcast plan: " << e.what() << "\n";
    return 2;
  }
}

static int PlanMainImpl(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "plan" && i == 1) continue;  // `shardcast plan ...`
    std::string key = a, value;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      key = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "shardcast plan: " << a << ": missing value\n" << kUsage;
      return 2;
    }
    if (key == "-o") key = "--output";
    static const char* known[] = {"--shardset", "--policy", "--forecast",
                                  "--replay",   "--now",    "--output"};
    if (std::find(std::begin(known), std::end(known), key) == std::end(known)) {
      std::cerr << "shardcast plan: unknown flag " << key << "\n" << kUsage;
      return 2;
    }
    args[key] = value;
  }
  auto fail = [](const std::string& msg) {
    std::cerr << "shardcast plan: " << msg << "\n";
    return 2;
  };
  if (!args.count("--shardset")) return fail("--shardset: required");
  if (!args.count("--policy")) return fail("--policy: required");
  if (args.count("--forecast") == args.count("--replay"))
    return fail("give exactly one of --forecast or --replay");
  std::string output = args.count("--output") ? args["--output"] : "text";
  if (output != "text" && output != "json") return fail("--output: must be text or json");

  auto state = ParseState(args["--shardset"]);
  if (!state) return fail(state.error().message);
  pl::PlanInput in = std::move(state).value();
  double horizon = 1800;
  auto policy = ParsePolicy(args["--policy"], &horizon);
  if (!policy) return fail(policy.error().message);
  in.policy = *policy;
  if (args.count("--now")) {
    auto now = pl::ParseRfc3339(args["--now"]);
    if (!now) return fail("--now: " + now.error().message);
    in.now = *now;
  }
  std::optional<int64_t> dataTime;
  if (args.count("--forecast")) {
    auto f = ParseForecast(args["--forecast"], &dataTime);
    if (!f) return fail(f.error().message);
    in.forecasts = *f;
  } else {
    auto f = ParseReplay(args["--replay"], in, horizon, &dataTime);
    if (!f) return fail(f.error().message);
    in.forecasts = *f;
  }
  if (in.now == 0) {
    in.now = dataTime ? *dataTime
                      : std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  }
  auto plan = pl::MakePlan(in);
  if (!plan) {
    // Name the file the offending field came from.
    const std::string& m = plan.error().message;
    std::string file = m.rfind("policy", 0) == 0 ? args["--policy"]
                       : m.rfind("forecasts", 0) == 0
                           ? (args.count("--forecast") ? args["--forecast"] : args["--replay"])
                           : args["--shardset"];
    return fail(file + ": " + (m.rfind("ranges", 0) == 0 ? "routing." + m : m));
  }
  if (output == "json") {
    std::cout << ToJson(*plan, in).dump(2) << "\n";
  } else {
    PrintText(*plan, in, std::cout);
  }
  return 0;
}

}  // namespace shardcast::cli
