// Parsing, selection, conflicts, planner input, proposals, limits, conditions.
#include <algorithm>
#include <cmath>
#include <set>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/planner/schedule.h"

namespace shardcast::migrationpolicy {
namespace {

struct FieldError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& field, const std::string& problem) {
  throw FieldError{field + ": " + problem};
}

const Json* Child(const Json& obj, const char* key, const std::string& field) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return nullptr;
  (void)field;
  return &obj[key];
}

const Json& ObjectAt(const Json& obj, const char* key, const std::string& field, const Json& empty) {
  const Json* c = Child(obj, key, field);
  if (c == nullptr) return empty;
  if (!c->is_object()) Fail(field + "." + key, "must be an object, got " + c->dump());
  return *c;
}

double Num(const Json& obj, const char* key, double def, const std::string& field, double lo,
           double hi) {
  const Json* c = Child(obj, key, field);
  if (c == nullptr) return def;
  if (!c->is_number()) Fail(field + "." + key, "must be a number, got " + c->dump());
  double v = c->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    Fail(field + "." + key, "must be in " + Json(lo).dump() + ".." + Json(hi).dump() + ", got " +
                                c->dump());
  }
  return v;
}

int64_t Dur(const Json& obj, const char* key, int64_t def, const std::string& field) {
  const Json* c = Child(obj, key, field);
  if (c == nullptr) return def;
  if (!c->is_string()) Fail(field + "." + key, "must be a duration string such as 5m, got " + c->dump());
  auto d = planner::ParseDurationSeconds(c->get<std::string>());
  if (!d) Fail(field + "." + key, d.error().message);
  return *d;
}

std::string Str(const Json& obj, const char* key, const std::string& def, const std::string& field) {
  const Json* c = Child(obj, key, field);
  if (c == nullptr) return def;
  if (!c->is_string()) Fail(field + "." + key, "must be a string, got " + c->dump());
  return c->get<std::string>();
}

std::vector<planner::Schedule> Schedules(const Json& spec, const char* key) {
  std::vector<planner::Schedule> out;
  const Json* c = Child(spec, key, "spec");
  if (c == nullptr) return out;
  std::string f = std::string("spec.") + key;
  if (!c->is_array()) Fail(f, "must be a list");
  for (size_t i = 0; i < c->size(); ++i) {
    std::string fi = f + "[" + std::to_string(i) + "]";
    const Json& e = (*c)[i];
    if (!e.is_object()) Fail(fi, "must be an object");
    std::string cron = Str(e, "schedule", "", fi);
    auto parsed = planner::Cron::Parse(cron);
    if (!parsed) Fail(fi + ".schedule", parsed.error().message);
    out.push_back({cron, Dur(e, "duration", 0, fi)});
  }
  return out;
}

int64_t TimeOf(const Json& j) {
  if (!j.is_string()) return 0;
  auto t = planner::ParseRfc3339(j.get<std::string>());
  return t ? *t : 0;
}

std::string TimeStr(int64_t t) { return t > 0 ? planner::FormatRfc3339(t) : std::string(); }

}  // namespace

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kAuto: return "Auto";
    case Mode::kProposal: return "Proposal";
    case Mode::kObserve: return "Observe";
  }
  return "?";
}

Result<PolicySpec> ParsePolicy(const Json& obj) {
  try {
    if (!obj.is_object()) Fail("(object)", "must be a JSON object");
    static const Json kEmpty = Json::object();
    PolicySpec p;
    const Json& md = ObjectAt(obj, "metadata", "", kEmpty);
    p.name = Str(md, "name", "", "metadata");
    p.ns = Str(md, "namespace", "", "metadata");
    p.uid = Str(md, "uid", "", "metadata");
    if (md.contains("generation") && md["generation"].is_number_integer()) {
      p.generation = md["generation"].get<int64_t>();
    }
    if (md.contains("creationTimestamp")) p.created = TimeOf(md["creationTimestamp"]);
    const Json& ann = ObjectAt(md, "annotations", "metadata", kEmpty);
    p.approve = Str(ann, "shardcast.dev/approve", "", "metadata.annotations");
    const Json& spec = ObjectAt(obj, "spec", "", kEmpty);
    if (const Json* s = Child(spec, "shardSetSelector", "spec")) {
      if (!s->is_object()) Fail("spec.shardSetSelector", "must be an object (a label selector)");
      p.selector = *s;
      auto check = SelectorMatches(p.selector, {});
      if (!check) return unexpected(check.error());
    }
    std::string mode = Str(spec, "mode", "Proposal", "spec");
    if (mode == "Auto") {
      p.mode = Mode::kAuto;
    } else if (mode == "Proposal") {
      p.mode = Mode::kProposal;
    } else if (mode == "Observe") {
      p.mode = Mode::kObserve;
    } else {
      Fail("spec.mode", "must be Auto, Proposal or Observe, got \"" + mode + "\"");
    }
    planner::Policy& pl = p.planner;
    const Json& fc = ObjectAt(spec, "forecast", "spec", kEmpty);
    pl.confidence = Num(fc, "confidence", 0.9, "spec.forecast", 0.5, 0.999);
    p.horizonSeconds = static_cast<double>(Dur(fc, "horizon", 1800, "spec.forecast"));
    const Json& th = ObjectAt(spec, "thresholds", "spec", kEmpty);
    pl.targetUtilization = Num(th, "targetUtilization", 0.6, "spec.thresholds", 0, 1);
    pl.maxUtilization = Num(th, "maxUtilization", 0.8, "spec.thresholds", 0, 1);
    pl.scaleInUtilization = Num(th, "scaleInUtilization", 0.3, "spec.thresholds", 0, 1);
    if (!(pl.scaleInUtilization < pl.targetUtilization)) {
      Fail("spec.thresholds.scaleInUtilization", "must be less than targetUtilization");
    }
    if (!(pl.targetUtilization < pl.maxUtilization)) {
      Fail("spec.thresholds.targetUtilization", "must be less than maxUtilization");
    }
    const Json& lim = ObjectAt(spec, "limits", "spec", kEmpty);
    pl.maxConcurrentMigrations =
        static_cast<int>(Num(lim, "maxConcurrentMigrations", 2, "spec.limits", 1, 64));
    pl.maxMovesPerHour = static_cast<int>(Num(lim, "maxMovesPerHour", 32, "spec.limits", 1, 10000));
    pl.cooldownSeconds = Dur(lim, "cooldown", 300, "spec.limits");
    pl.scaleInStabilizationSeconds = Dur(lim, "scaleInStabilization", 1800, "spec.limits");
    pl.windows = Schedules(spec, "windows");
    pl.blackouts = Schedules(spec, "blackouts");
    const Json& mig = ObjectAt(spec, "migration", "spec", kEmpty);
    const Json& lt = ObjectAt(mig, "leadTime", "spec.migration", kEmpty);
    pl.promotionLeadSeconds = static_cast<double>(Dur(lt, "promotion", 30, "spec.migration.leadTime"));
    pl.perRangeLeadSeconds = static_cast<double>(Dur(lt, "perRange", 10, "spec.migration.leadTime"));
    const Json& sh = ObjectAt(mig, "shadow", "spec.migration", kEmpty);
    if (const Json* e = Child(sh, "enabled", "spec.migration.shadow")) {
      if (!e->is_boolean()) Fail("spec.migration.shadow.enabled", "must be true or false");
      p.shadowEnabled = e->get<bool>();
    }
    p.shadowFraction = Num(sh, "fraction", 0.1, "spec.migration.shadow", 0, 1);
    p.shadowSeconds = Dur(sh, "duration", 60, "spec.migration.shadow");
    const Json& ver = ObjectAt(mig, "verification", "spec.migration", kEmpty);
    p.verificationSeconds = Dur(ver, "window", 120, "spec.migration.verification");
    p.maxErrorRate = Num(ver, "maxErrorRate", 0.01, "spec.migration.verification", 0, 1);
    p.maxLatencyRatio = Num(ver, "maxLatencyRatio", 1.5, "spec.migration.verification", 1, 100);
    p.proposalTtlSeconds = Dur(mig, "proposalTTL", 900, "spec.migration");
    if (p.proposalTtlSeconds <= 0) Fail("spec.migration.proposalTTL", "must be positive");
    return p;
  } catch (const FieldError& e) {
    return unexpected(Error{e.message});
  }
}

Result<bool> SelectorMatches(const Json& selector, const std::map<std::string, std::string>& labels) {
  const std::string f = "spec.shardSetSelector";
  if (selector.is_null()) return true;
  if (!selector.is_object()) return unexpected(Error{f + ": must be an object"});
  bool ok = true;
  if (selector.contains("matchLabels") && !selector["matchLabels"].is_null()) {
    const Json& ml = selector["matchLabels"];
    if (!ml.is_object()) return unexpected(Error{f + ".matchLabels: must be a map of strings"});
    for (auto it = ml.begin(); it != ml.end(); ++it) {
      if (!it.value().is_string()) {
        return unexpected(Error{f + ".matchLabels." + it.key() + ": must be a string"});
      }
      auto l = labels.find(it.key());
      if (l == labels.end() || l->second != it.value().get<std::string>()) ok = false;
    }
  }
  if (selector.contains("matchExpressions") && !selector["matchExpressions"].is_null()) {
    const Json& me = selector["matchExpressions"];
    if (!me.is_array()) return unexpected(Error{f + ".matchExpressions: must be a list"});
    for (size_t i = 0; i < me.size(); ++i) {
      std::string fi = f + ".matchExpressions[" + std::to_string(i) + "]";
      const Json& e = me[i];
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) {
        return unexpected(Error{fi + ".key: required string"});
      }
      std::string op = e.value("operator", Json()).is_string() ? e["operator"].get<std::string>() : "";
      std::set<std::string> values;
      if (e.contains("values") && !e["values"].is_null()) {
        if (!e["values"].is_array()) return unexpected(Error{fi + ".values: must be a list of strings"});
        for (const auto& v : e["values"]) {
          if (!v.is_string()) return unexpected(Error{fi + ".values: must be a list of strings"});
          values.insert(v.get<std::string>());
        }
      }
      auto l = labels.find(e["key"].get<std::string>());
      bool has = l != labels.end();
      if (op == "In" || op == "NotIn") {
        if (values.empty()) return unexpected(Error{fi + ".values: must be non-empty for " + op});
        bool in = has && values.count(l->second);
        if ((op == "In") != in) ok = false;
      } else if (op == "Exists" || op == "DoesNotExist") {
        if (!values.empty()) return unexpected(Error{fi + ".values: must be empty for " + op});
        if ((op == "Exists") != has) ok = false;
      } else {
        return unexpected(Error{fi + ".operator: must be In, NotIn, Exists or DoesNotExist, got \"" +
                                op + "\""});
      }
    }
  }
  return ok;
}

Selection ResolveSelection(const std::string& self, const std::vector<PolicyRef>& all) {
  Selection out;
  const PolicyRef* me = nullptr;
  for (const auto& p : all) {
    if (p.name == self) me = &p;
  }
  if (me == nullptr) return out;
  std::vector<std::string> mine = me->selected;
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  for (const auto& set : mine) {
    std::vector<const PolicyRef*> claim;
    for (const auto& p : all) {
      if (std::find(p.selected.begin(), p.selected.end(), set) != p.selected.end()) claim.push_back(&p);
    }
    std::sort(claim.begin(), claim.end(), [](const PolicyRef* a, const PolicyRef* b) {
      return a->created != b->created ? a->created < b->created : a->name < b->name;
    });
    if (claim.size() > 1) {
      Conflict c;
      c.shardSet = set;
      for (const auto* p : claim) c.policies.push_back(p->name);
      c.chosen = claim.front()->name;
      out.conflicts.push_back(c);
    }
    if (claim.front()->name == self) out.governed.push_back(set);
  }
  return out;
}

// ---- planner input ----

Result<std::map<std::string, ForecastEntry>> ParseForecasts(const Json& shardset) {
  std::map<std::string, ForecastEntry> out;
  if (!shardset.is_object() || !shardset.contains("status") || !shardset["status"].is_object()) return out;
  const Json& st = shardset["status"];
  if (!st.contains("forecasts") || st["forecasts"].is_null()) return out;
  if (!st["forecasts"].is_array()) return unexpected(Error{"status.forecasts: must be a list"});
  const Json& fs = st["forecasts"];
  for (size_t i = 0; i < fs.size(); ++i) {
    std::string fi = "status.forecasts[" + std::to_string(i) + "]";
    const Json& e = fs[i];
    if (!e.is_object() || !e.contains("pod") || !e["pod"].is_string()) {
      return unexpected(Error{fi + ".pod: required string"});
    }
    ForecastEntry f;
    auto num = [&](const char* k, double def) -> Result<double> {
      if (!e.contains(k) || e[k].is_null()) return def;
      if (!e[k].is_number() || !std::isfinite(e[k].get<double>()) || e[k].get<double>() < 0) {
        return unexpected(Error{fi + "." + k + ": must be a non-negative number, got " + e[k].dump()});
      }
      return e[k].get<double>();
    };
    auto peak = num("peak", 0);
    if (!peak) return unexpected(peak.error());
    auto p90 = num("p90", *peak);
    if (!p90) return unexpected(p90.error());
    auto p99 = num("p99", *p90);
    if (!p99) return unexpected(p99.error());
    auto pe = num("probExceed", 0);
    if (!pe) return unexpected(pe.error());
    auto hz = num("horizonSeconds", 0);
    if (!hz) return unexpected(hz.error());
    if (*pe > 1) return unexpected(Error{fi + ".probExceed: must be in 0..1"});
    f.peak = *peak;
    f.p90 = std::max(*p90, *peak);
    f.p99 = std::max(*p99, f.p90);
    f.probExceed = *pe;
    f.horizonSeconds = *hz;
    if (e.contains("trusted") && !e["trusted"].is_null()) {
      if (!e["trusted"].is_boolean()) return unexpected(Error{fi + ".trusted: must be true or false"});
      f.trusted = e["trusted"].get<bool>();
    }
    out[e["pod"].get<std::string>()] = f;
  }
  return out;
}

Result<double> ParseCpuQuantity(const std::string& q) {
  if (q.empty()) return unexpected(Error{"cpu quantity: empty"});
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(q, &pos);
  } catch (...) {
    return unexpected(Error{"cpu quantity: not a number: \"" + q + "\""});
  }
  std::string suffix = q.substr(pos);
  double scale = 1000;  // cores -> millicores
  if (suffix == "m") {
    scale = 1;
  } else if (suffix == "u") {
    scale = 1e-3;
  } else if (suffix == "n") {
    scale = 1e-6;
  } else if (suffix == "k") {
    scale = 1e6;
  } else if (!suffix.empty()) {
    return unexpected(Error{"cpu quantity: unknown suffix in \"" + q + "\""});
  }
  if (!std::isfinite(v) || v < 0) return unexpected(Error{"cpu quantity: must be >= 0: \"" + q + "\""});
  return v * scale;
}

std::optional<double> PodMetricsMillicores(const Json& pm) {
  if (!pm.is_object() || !pm.contains("containers") || !pm["containers"].is_array()) return std::nullopt;
  double sum = 0;
  bool any = false;
  for (const auto& c : pm["containers"]) {
    if (!c.is_object() || !c.contains("usage") || !c["usage"].is_object()) continue;
    const Json& u = c["usage"];
    if (!u.contains("cpu") || !u["cpu"].is_string()) continue;
    auto v = ParseCpuQuantity(u["cpu"].get<std::string>());
    if (!v) continue;
    sum += *v;
    any = true;
  }
  if (!any) return std::nullopt;
  return sum;
}

Result<BuiltInput> BuildPlanInput(const Json& shardset, const std::vector<PodInfo>& pods,
                                  const Json& routing, const LoadInput& load,
                                  const PolicySpec& policy, const planner::History& history,
                                  int64_t now) {
  try {
    static const Json kEmpty = Json::object();
    BuiltInput out;
    planner::PlanInput& in = out.input;
    const Json& md = ObjectAt(shardset, "metadata", "", kEmpty);
    in.state.name = Str(md, "name", "", "metadata");
    const Json& spec = ObjectAt(shardset, "spec", "", kEmpty);
    in.state.minReplicas = static_cast<int>(Num(spec, "minReplicas", 1, "spec", 0, 1e6));
    in.state.maxReplicas = static_cast<int>(Num(spec, "maxReplicas", 10, "spec", 0, 1e6));
    in.state.warmPoolSize =
        static_cast<int>(Num(ObjectAt(spec, "warmPool", "spec", kEmpty), "size", 1, "spec.warmPool", 0, 100));
    in.state.configuredRanges =
        static_cast<int>(Num(ObjectAt(spec, "keySpace", "spec", kEmpty), "ranges", 256, "spec.keySpace", 1, 4096));
    in.state.loadFactor = Num(ObjectAt(ObjectAt(spec, "keySpace", "spec", kEmpty), "hashing", "spec.keySpace", kEmpty),
                              "loadFactor", 1.25, "spec.keySpace.hashing", 1, 100);
    const Json& cap = ObjectAt(spec, "capacity", "spec", kEmpty);
    std::string metric = Str(cap, "metric", "CPU", "spec.capacity");
    double capacity = 0;
    if (metric == "CPU") {
      capacity = Num(cap, "cpuMillis", 1000, "spec.capacity", 0, 1e12);
    } else if (metric == "RequestsPerSecond") {
      capacity = Num(cap, "requestsPerSecond", 0, "spec.capacity", 0, 1e12);
    } else {
      Fail("spec.capacity.metric", "must be CPU or RequestsPerSecond, got \"" + metric + "\"");
    }
    if (capacity <= 0) {
      Fail(metric == "CPU" ? "spec.capacity.cpuMillis" : "spec.capacity.requestsPerSecond",
           "must be > 0");
    }
    out.capacity = capacity;
    for (const auto& p : pods) {
      planner::Pod pod;
      pod.name = p.name;
      pod.role = p.role == "active" ? planner::PodRole::kActive : planner::PodRole::kWarm;
      pod.ready = p.ready;
      pod.capacity = capacity;
      in.state.pods.push_back(pod);
    }
    if (!routing.is_object() || !routing.contains("ranges") || !routing["ranges"].is_array()) {
      Fail("routing.json ranges", "missing: the ShardSet has not published a routing document yet");
    }
    const Json& rs = routing["ranges"];
    for (size_t i = 0; i < rs.size(); ++i) {
      std::string fi = "routing.json ranges[" + std::to_string(i) + "]";
      const Json& r = rs[i];
      if (!r.is_object()) Fail(fi, "must be an object");
      planner::Range range;
      for (auto [k, dst] : {std::pair<const char*, uint32_t*>{"id", &range.id}, {"start", &range.start},
                            {"end", &range.end}}) {
        if (!r.contains(k) || !r[k].is_number_unsigned() || r[k].get<uint64_t>() > 0xffffffffULL) {
          Fail(fi + "." + k, "must be an unsigned 32-bit integer");
        }
        *dst = static_cast<uint32_t>(r[k].get<uint64_t>());
      }
      range.owner = Str(r, "owner", "", fi);
      std::string st = Str(r, "state", "stable", fi);
      range.state = st == "migrating" ? planner::RangeState::kMigrating
                    : st == "shadow"  ? planner::RangeState::kShadow
                                      : planner::RangeState::kStable;
      if (r.contains("echoes") && r["echoes"].is_array()) {
        for (const auto& e : r["echoes"]) {
          if (e.is_object() && e.contains("pod") && e["pod"].is_string()) {
            range.echoes.push_back(e["pod"].get<std::string>());
          } else if (e.is_string()) {
            range.echoes.push_back(e.get<std::string>());
          }
        }
      }
      in.state.ranges.push_back(range);
    }
    in.forecasts.horizonSeconds = policy.horizonSeconds;
    for (const auto& [pod, f] : load.forecasts) {
      planner::SeriesForecast s;
      auto o = load.observed.find(pod);
      s.observed = o != load.observed.end() ? o->second : 0;
      s.p50 = f.peak;
      s.p90 = std::max(f.p90, s.p50);
      s.p99 = std::max(f.p99, s.p90);
      s.probExceed = f.probExceed;
      s.trusted = f.trusted;
      in.forecasts.pods[pod] = s;
      if (f.horizonSeconds > 0) in.forecasts.horizonSeconds = f.horizonSeconds;
    }
    for (const auto& [pod, v] : load.observed) {
      if (in.forecasts.pods.count(pod)) continue;
      planner::SeriesForecast s;
      s.observed = s.p50 = s.p90 = s.p99 = v;
      s.trusted = false;
      in.forecasts.pods[pod] = s;
    }
    out.reactive = load.forecasts.empty();
    out.noData = load.forecasts.empty() && load.observed.empty();
    in.policy = policy.planner;
    in.history = history;
    in.now = now;
    return out;
  } catch (const FieldError& e) {
    return unexpected(Error{e.message});
  }
}

// ---- actions ----

Json ActionToJson(const ActionRecord& a) {
  Json j = {{"id", a.id}, {"shardSet", a.shardSet}, {"type", a.type}, {"phase", a.phase},
            {"attempts", a.attempts}};
  if (a.range) j["range"] = *a.range;
  if (a.other) j["other"] = *a.other;
  if (a.splitAt) j["splitAt"] = *a.splitAt;
  if (!a.source.empty()) j["source"] = a.source;
  if (!a.target.empty()) j["target"] = a.target;
  if (a.startedAt > 0) j["startedAt"] = TimeStr(a.startedAt);
  if (a.phaseStartedAt > 0) j["phaseStartedAt"] = TimeStr(a.phaseStartedAt);
  if (a.finishedAt > 0) j["finishedAt"] = TimeStr(a.finishedAt);
  if (!a.message.empty()) j["message"] = a.message;
  if (a.routingEpoch > 0) j["routingEpoch"] = a.routingEpoch;
  if (a.retryAt > 0) j["retryAt"] = TimeStr(a.retryAt);
  return j;
}

Result<ActionRecord> ActionFromJson(const Json& j, const std::string& field) {
  try {
    if (!j.is_object()) Fail(field, "must be an object");
    ActionRecord a;
    a.id = Str(j, "id", "", field);
    if (a.id.empty()) Fail(field + ".id", "required");
    a.shardSet = Str(j, "shardSet", "", field);
    a.type = Str(j, "type", "", field);
    static const std::set<std::string> kTypes = {"Promote", "Move",  "AddEcho", "RemoveEcho",
                                                 "Split",   "Merge", "ScaleIn", "Demote"};
    if (!kTypes.count(a.type)) Fail(field + ".type", "unknown action type \"" + a.type + "\"");
    if (j.contains("range") && !j["range"].is_null()) {
      if (!j["range"].is_number_unsigned()) Fail(field + ".range", "must be a range id");
      a.range = j["range"].get<uint32_t>();
    }
    for (const char* k : {"other", "splitAt"}) {
      if (!j.contains(k) || j[k].is_null()) continue;
      if (!j[k].is_number_unsigned() || j[k].get<uint64_t>() > UINT32_MAX) {
        Fail(field + "." + k, "must be an integer in 0..4294967295");
      }
      (std::string(k) == "other" ? a.other : a.splitAt) = j[k].get<uint32_t>();
    }
    if (a.type == "Split" && (!a.range || !a.other || !a.splitAt)) Fail(field, "Split needs range, other and splitAt");
    if (a.type == "Merge" && (!a.range || !a.other)) Fail(field, "Merge needs range and other");
    a.source = Str(j, "source", "", field);
    a.target = Str(j, "target", "", field);
    a.phase = Str(j, "phase", "Pending", field);
    if (j.contains("startedAt")) a.startedAt = TimeOf(j["startedAt"]);
    if (j.contains("phaseStartedAt")) a.phaseStartedAt = TimeOf(j["phaseStartedAt"]);
    if (j.contains("finishedAt")) a.finishedAt = TimeOf(j["finishedAt"]);
    if (j.contains("retryAt")) a.retryAt = TimeOf(j["retryAt"]);
    if (j.contains("attempts") && j["attempts"].is_number_integer()) a.attempts = j["attempts"].get<int>();
    a.message = Str(j, "message", "", field);
    if (j.contains("routingEpoch")) {
      if (!j["routingEpoch"].is_number_integer() || j["routingEpoch"].get<int64_t>() < 0) {
        Fail(field + ".routingEpoch", "must be a non-negative integer");
      }
      a.routingEpoch = j["routingEpoch"].get<int64_t>();
    }
    return a;
  } catch (const FieldError& e) {
    return unexpected(Error{e.message});
  }
}

std::vector<ActionRecord> ActionsFromPlan(const std::string& planId, const std::string& shardSet,
                                          const planner::Plan& plan) {
  std::vector<ActionRecord> out;
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const auto& pa = plan.actions[i];
    ActionRecord a;
    a.id = planId + "-" + std::to_string(i);
    a.shardSet = shardSet;
    a.type = planner::ActionTypeName(pa.type);
    a.range = pa.range;
    a.other = pa.other;
    a.splitAt = pa.splitAt;
    switch (pa.type) {
      case planner::ActionType::kMove:
        a.source = pa.from;
        a.target = pa.to;
        break;
      case planner::ActionType::kPromote:
      case planner::ActionType::kAddEcho:
      case planner::ActionType::kRemoveEcho:
        a.target = pa.pod;
        break;
      default:
        a.source = pa.pod;
        break;
    }
    a.message = pa.reason;
    out.push_back(a);
  }
  return out;
}

// ---- proposals ----

std::string ProposalId(const std::string& planId, int64_t createdAt) {
  return planId + "-" + std::to_string(createdAt);
}

namespace {
uint64_t Fnv(const std::string& s, uint64_t h = 14695981039346656037ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}
std::string Pct(double u) { return std::to_string(static_cast<int>(std::lround(u * 100))) + "%"; }
}  // namespace

Json BuildProposal(const std::vector<ProposalPlan>& plans, int64_t now, int64_t ttlSeconds,
                   const std::string& note) {
  std::string planId;
  if (plans.size() == 1) {
    planId = plans[0].plan.id;
  } else {
    uint64_t h = Fnv("");
    for (const auto& p : plans) h = Fnv(p.shardSet + "/" + p.plan.id, h);
    char buf[32];
    snprintf(buf, sizeof(buf), "plan-%016llx", static_cast<unsigned long long>(h));
    planId = buf;
  }
  std::string id = ProposalId(planId, now);
  Json actions = Json::array();
  Json reasons = Json::array();
  if (!note.empty()) reasons.push_back(note);
  int before = 0, after = 0;
  Json pods = Json::array();
  int64_t moved_ranges = 0, lower_bound = 0;
  std::optional<double> bytes;
  for (const auto& pp : plans) {
    for (const auto& a : ActionsFromPlan(id, pp.shardSet, pp.plan)) {
      Json j = {{"id", a.id}, {"shardSet", a.shardSet}, {"type", a.type}, {"reason", a.message}};
      if (a.range) j["range"] = *a.range;
      if (a.other) j["other"] = *a.other;
      if (a.splitAt) j["splitAt"] = *a.splitAt;
      if (!a.source.empty()) j["source"] = a.source;
      if (!a.target.empty()) j["target"] = a.target;
      actions.push_back(j);
    }
    for (const auto& row : pp.plan.pods) {
      if (row.role == planner::PodRole::kActive) ++after;
      if (row.rangesBefore > 0 || (row.role == planner::PodRole::kActive && row.rangesAfter == 0)) ++before;
      pods.push_back({{"shardSet", pp.shardSet},
                      {"pod", row.pod},
                      {"role", row.role == planner::PodRole::kActive ? "active" : "warm"},
                      {"utilizationBefore", Pct(row.before)},
                      {"utilizationAfter", Pct(row.after)},
                      {"observedUtilization", Pct(row.observed)},
                      {"rangesBefore", row.rangesBefore},
                      {"rangesAfter", row.rangesAfter}});
      reasons.push_back(pp.shardSet + "/" + row.pod + ": utilization " + Pct(row.before) + " -> " +
                        Pct(row.after) + " (observed " + Pct(row.observed) + "), ranges " +
                        std::to_string(row.rangesBefore) + " -> " + std::to_string(row.rangesAfter));
    }
    std::string moved = pp.shardSet + ": " + std::to_string(pp.plan.moves) + " range(s) moved (lower bound " +
                        std::to_string(pp.plan.movedLowerBound) + ")";
    if (pp.bytesMoved) moved += ", ~" + std::to_string(static_cast<long long>(*pp.bytesMoved)) + " bytes";
    moved_ranges += static_cast<int64_t>(pp.plan.moves);
    lower_bound += static_cast<int64_t>(pp.plan.movedLowerBound);
    if (pp.bytesMoved) bytes = bytes.value_or(0) + *pp.bytesMoved;
    reasons.push_back(moved);
    for (const auto& b : pp.plan.blocked) reasons.push_back(pp.shardSet + ": blocked: " + b.subject + ": " + b.message);
  }
  Json p = {{"id", id},
            {"createdAt", TimeStr(now)},
            {"expiresAt", TimeStr(now + ttlSeconds)},
            {"actions", actions},
            {"podsBefore", before},
            {"podsAfter", after},
            {"pods", pods},
            {"movedRanges", moved_ranges},
            {"movedRangesLowerBound", lower_bound},
            {"reasons", reasons}};
  if (bytes) p["bytesMoved"] = static_cast<int64_t>(std::llround(*bytes));
  return p;
}

ProposalVerdict JudgeProposal(const Json& proposal, const std::string& approve, int64_t now) {
  if (!proposal.is_object() || !proposal.contains("id") || !proposal["id"].is_string() ||
      proposal["id"].get<std::string>().empty()) {
    return ProposalVerdict::kNone;
  }
  int64_t expires = proposal.contains("expiresAt") ? TimeOf(proposal["expiresAt"]) : 0;
  if (expires == 0 || now >= expires) return ProposalVerdict::kExpired;
  if (!approve.empty() && approve == proposal["id"].get<std::string>()) return ProposalVerdict::kApproved;
  return ProposalVerdict::kPending;
}

Result<std::vector<ActionRecord>> ActionsFromProposal(const Json& proposal) {
  std::vector<ActionRecord> out;
  if (!proposal.is_object() || !proposal.contains("actions")) return out;
  if (!proposal["actions"].is_array()) return unexpected(Error{"status.proposal.actions: must be a list"});
  const Json& as = proposal["actions"];
  for (size_t i = 0; i < as.size(); ++i) {
    Json j = as[i];
    std::string reason = j.is_object() ? j.value("reason", std::string()) : std::string();
    auto a = ActionFromJson(j, "status.proposal.actions[" + std::to_string(i) + "]");
    if (!a) return unexpected(a.error());
    a->phase = "Pending";
    a->message = reason;
    out.push_back(*a);
  }
  return out;
}

// ---- limits and history ----

namespace {
bool CopiesData(const ActionRecord& a) { return a.type == "Move" || a.type == "AddEcho"; }
}  // namespace

bool MayStartMigration(const std::vector<ActionRecord>& actions, const std::vector<ActionRecord>& history,
                       const planner::Policy& p, int64_t now) {
  int inflight = 0, lastHour = 0;
  for (const auto* list : {&actions, &history}) {
    for (const auto& a : *list) {
      if (!CopiesData(a) || a.startedAt == 0) continue;
      if (!a.terminal()) ++inflight;
      if (now - a.startedAt < 3600) ++lastHour;
    }
  }
  return inflight < p.maxConcurrentMigrations && lastHour < p.maxMovesPerHour;
}

planner::History HistoryFrom(const std::vector<ActionRecord>& actions,
                             const std::vector<ActionRecord>& history, int64_t now) {
  planner::History h;
  for (const auto* list : {&actions, &history}) {
    for (const auto& a : *list) {
      if (a.startedAt == 0) continue;
      int64_t last = std::max(a.startedAt, a.finishedAt);
      if (CopiesData(a)) {
        if (now - a.startedAt < 3600) h.moveTimes.push_back(a.startedAt);
        if (!a.terminal()) ++h.inFlightMigrations;
      }
      if (a.range) h.rangeLastAction[*a.range] = std::max(h.rangeLastAction[*a.range], last);
      // Both halves of a split cool down: otherwise the new upper half is
      // split again at once while a stale pod forecast still calls its owner
      // hot, and the key space is cut ever finer.
      if (a.other && (a.type == "Split" || a.type == "Merge")) {
        h.rangeLastAction[*a.other] = std::max(h.rangeLastAction[*a.other], last);
      }
      for (const auto& pod : {a.source, a.target}) {
        if (!pod.empty() && a.type != "Move") h.podLastAction[pod] = std::max(h.podLastAction[pod], last);
      }
    }
  }
  std::sort(h.moveTimes.begin(), h.moveTimes.end());
  return h;
}

// ---- conditions ----

Json BuildConditions(const std::vector<Condition>& conds, const Json& previous, int64_t generation,
                     const std::string& now) {
  Json out = Json::array();
  for (const auto& c : conds) {
    std::string ltt = now;
    if (previous.is_array()) {
      for (const auto& p : previous) {
        if (p.is_object() && p.value("type", Json()) == c.type && p.value("status", Json()) == c.status &&
            p.contains("lastTransitionTime") && p["lastTransitionTime"].is_string()) {
          ltt = p["lastTransitionTime"].get<std::string>();
        }
      }
    }
    out.push_back({{"type", c.type},
                   {"status", c.status},
                   {"reason", c.reason},
                   {"message", c.message},
                   {"observedGeneration", generation},
                   {"lastTransitionTime", ltt}});
  }
  return out;
}

}  // namespace shardcast::migrationpolicy
