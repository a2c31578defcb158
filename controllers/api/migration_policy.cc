// The one MigrationPolicy parser (defaults and validation of the CRD).
#include "controllers/api/migration_policy.h"

#include <cmath>

#include "controllers/api/fields.h"
#include "controllers/api/names.h"
#include "util/cron.h"
#include "util/duration.h"
#include "util/time.h"

namespace shardcast::api {
namespace {

using fields::Show;

// Thrown inside this file only; converted to a Result at ParseMigrationPolicy.
struct FieldError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& field, const std::string& problem) {
  throw FieldError{field + ": " + problem};
}

std::string Join(const std::string& parent, const char* key) {
  return parent.empty() ? key : parent + "." + key;
}

const Json* Child(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return nullptr;
  return &obj[key];
}

const Json& MapAt(const Json& obj, const char* key, const std::string& parent) {
  static const Json kEmpty = Json::object();
  const Json* c = Child(obj, key);
  if (c == nullptr) return kEmpty;
  if (!c->is_object()) Fail(Join(parent, key), "must be a map, got " + Show(*c));
  return *c;
}

double Num(const Json& obj, const char* key, double def, const std::string& parent, double lo,
           double hi) {
  const Json* c = Child(obj, key);
  if (c == nullptr) return def;
  if (!c->is_number()) Fail(Join(parent, key), "must be a number, got " + Show(*c));
  double v = c->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    Fail(Join(parent, key),
         "must be in " + Json(lo).dump() + ".." + Json(hi).dump() + ", got " + Show(*c));
  }
  return v;
}

int64_t Dur(const Json& obj, const char* key, int64_t def, const std::string& parent) {
  const Json* c = Child(obj, key);
  if (c == nullptr) return def;
  std::string f = Join(parent, key);
  if (!c->is_string()) Fail(f, "must be a duration string such as 5m, got " + Show(*c));
  auto d = util::ParseDurationSeconds(c->get<std::string>(), f);
  if (!d) throw FieldError{d.error().message};
  return *d;
}

std::string Str(const Json& obj, const char* key, const std::string& def,
                const std::string& parent) {
  const Json* c = Child(obj, key);
  if (c == nullptr) return def;
  if (!c->is_string()) Fail(Join(parent, key), "must be a string, got " + Show(*c));
  return c->get<std::string>();
}

std::vector<Schedule> Schedules(const Json& spec, const char* key) {
  std::vector<Schedule> out;
  const Json* c = Child(spec, key);
  if (c == nullptr) return out;
  std::string f = std::string("spec.") + key;
  if (!c->is_array()) Fail(f, "must be a list of {schedule, duration}");
  for (size_t i = 0; i < c->size(); ++i) {
    std::string fi = f + "[" + std::to_string(i) + "]";
    const Json& e = (*c)[i];
    if (!e.is_object()) Fail(fi, "must be a map");
    if (Child(e, "schedule") == nullptr) Fail(fi + ".schedule", "missing");
    std::string cron = Str(e, "schedule", "", fi);
    auto parsed = util::Cron::Parse(cron);
    if (!parsed) Fail(fi + ".schedule", parsed.error().message);
    if (Child(e, "duration") == nullptr) Fail(fi + ".duration", "missing");
    out.push_back({cron, Dur(e, "duration", 0, fi)});
  }
  return out;
}

void ParseMetadata(const Json& obj, MigrationPolicy& p) {
  const Json& md = MapAt(obj, "metadata", "");
  p.name = Str(md, "name", "", "metadata");
  p.ns = Str(md, "namespace", "", "metadata");
  p.uid = Str(md, "uid", "", "metadata");
  if (md.contains("generation") && md["generation"].is_number_integer())
    p.generation = md["generation"].get<int64_t>();
  p.created = CreationTime(obj);
  const Json& ann = MapAt(md, "annotations", "metadata");
  p.approve = Str(ann, kAnnotationApprove, "", "metadata.annotations");
}

void ParseForecast(const Json& spec, MigrationPolicy& p) {
  const Json& fc = MapAt(spec, "forecast", "spec");
  p.confidence = Num(fc, "confidence", 0.9, "spec.forecast", -1e300, 1e300);
  p.step_seconds = Dur(fc, "step", 60, "spec.forecast");
  if (p.step_seconds < 1) Fail("spec.forecast.step", "must be at least 1s");
  p.horizon_seconds = Dur(fc, "horizon", 1800, "spec.forecast");
  if (p.horizon_seconds < 1) Fail("spec.forecast.horizon", "must be at least 1s");
  if (p.horizon_seconds < p.step_seconds)
    Fail("spec.forecast.horizon", "must be at least spec.forecast.step");
  std::string seasonality = Str(fc, "seasonality", "Auto", "spec.forecast");
  if (seasonality == "Auto") {
    p.seasonality = Seasonality::kAuto;
  } else if (seasonality == "None") {
    p.seasonality = Seasonality::kNone;
  } else if (seasonality == "Manual") {
    p.seasonality = Seasonality::kManual;
    const Json* sp = Child(fc, "seasonalPeriods");
    if (sp != nullptr && !sp->is_array()) Fail("spec.forecast.seasonalPeriods", "must be a list");
    for (size_t i = 0; sp != nullptr && i < sp->size(); ++i) {
      std::string f = "spec.forecast.seasonalPeriods[" + std::to_string(i) + "]";
      if (!(*sp)[i].is_string()) Fail(f, "must be a duration string like 24h");
      auto d = util::ParseDurationSeconds((*sp)[i].get<std::string>(), f);
      if (!d) throw FieldError{d.error().message};
      if (*d <= 0) Fail(f, "must be positive");
      p.seasonal_periods_seconds.push_back(*d);
    }
  } else {
    Fail("spec.forecast.seasonality", "must be Auto, Manual or None, got \"" + seasonality + "\"");
  }
}

void ParseLimits(const Json& spec, MigrationPolicy& p) {
  const Json& th = MapAt(spec, "thresholds", "spec");
  p.target_utilization = Num(th, "targetUtilization", 0.6, "spec.thresholds", 0, 1);
  p.max_utilization = Num(th, "maxUtilization", 0.8, "spec.thresholds", 0, 1);
  p.scale_in_utilization = Num(th, "scaleInUtilization", 0.3, "spec.thresholds", 0, 1);
  if (!(p.scale_in_utilization < p.target_utilization)) {
    Fail("spec.thresholds.scaleInUtilization", "must be less than targetUtilization");
  }
  if (!(p.target_utilization < p.max_utilization)) {
    Fail("spec.thresholds.targetUtilization", "must be less than maxUtilization");
  }
  const Json& lim = MapAt(spec, "limits", "spec");
  p.max_concurrent_migrations =
      static_cast<int>(Num(lim, "maxConcurrentMigrations", 2, "spec.limits", 1, 64));
  p.max_moves_per_hour = static_cast<int>(Num(lim, "maxMovesPerHour", 32, "spec.limits", 1, 10000));
  p.cooldown_seconds = Dur(lim, "cooldown", 300, "spec.limits");
  p.scale_in_stabilization_seconds = Dur(lim, "scaleInStabilization", 1800, "spec.limits");
  p.windows = Schedules(spec, "windows");
  p.blackouts = Schedules(spec, "blackouts");
}

void ParseMigration(const Json& spec, MigrationPolicy& p) {
  const Json& mig = MapAt(spec, "migration", "spec");
  const Json& lt = MapAt(mig, "leadTime", "spec.migration");
  p.promotion_lead_seconds = Dur(lt, "promotion", 30, "spec.migration.leadTime");
  p.per_range_lead_seconds = Dur(lt, "perRange", 10, "spec.migration.leadTime");
  if (const Json* w = Child(mig, "prewarm")) {
    if (!w->is_boolean()) Fail("spec.migration.prewarm", "must be true or false");
    p.prewarm = w->get<bool>();
  }
  p.echo_sync_cost = Num(mig, "echoSyncCost", 1.5, "spec.migration", 0, 100);
  const Json& sh = MapAt(mig, "shadow", "spec.migration");
  if (const Json* e = Child(sh, "enabled")) {
    if (!e->is_boolean()) Fail("spec.migration.shadow.enabled", "must be true or false");
    p.shadow_enabled = e->get<bool>();
  }
  p.shadow_fraction = Num(sh, "fraction", 0.1, "spec.migration.shadow", 0, 1);
  p.shadow_seconds = Dur(sh, "duration", 60, "spec.migration.shadow");
  const Json& ver = MapAt(mig, "verification", "spec.migration");
  p.verification_seconds = Dur(ver, "window", 120, "spec.migration.verification");
  p.max_error_rate = Num(ver, "maxErrorRate", 0.01, "spec.migration.verification", 0, 1);
  p.max_latency_ratio = Num(ver, "maxLatencyRatio", 1.5, "spec.migration.verification", 1, 100);
  p.proposal_ttl_seconds = Dur(mig, "proposalTTL", 900, "spec.migration");
  if (p.proposal_ttl_seconds <= 0) Fail("spec.migration.proposalTTL", "must be positive");
}

void ParseEvents(const Json& spec, MigrationPolicy& p) {
  const Json* ev = Child(spec, "events");
  if (ev == nullptr) return;
  if (!ev->is_array()) Fail("spec.events", "must be a list");
  for (size_t i = 0; i < ev->size(); ++i) {
    const Json& e = (*ev)[i];
    std::string f = "spec.events[" + std::to_string(i) + "]";
    if (!e.is_object()) Fail(f, "must be a map");
    LoadEvent le;
    le.name = Str(e, "name", "", f);
    const Json* start = Child(e, "start");
    if (start == nullptr || !start->is_string()) Fail(f + ".start", "must be an RFC3339 time");
    auto t = util::ParseRfc3339(start->get<std::string>());
    if (!t) Fail(f + ".start", t.error().message);
    le.start = *t;
    le.duration_seconds = Dur(e, "duration", 0, f);
    if (le.duration_seconds <= 0) Fail(f + ".duration", "required and positive");
    le.multiplier = Num(e, "multiplier", 1.0, f, 0, 1e300);
    if (const Json* rs = Child(e, "ranges"); rs != nullptr) {
      if (!rs->is_array()) Fail(f + ".ranges", "must be a list of range ids");
      for (size_t j = 0; j < rs->size(); ++j) {
        const Json& id = (*rs)[j];
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= 4096)
          Fail(f + ".ranges[" + std::to_string(j) + "]", "must be a range id in 0..4095");
        le.ranges.push_back(id.get<uint32_t>());
      }
    }
    p.events.push_back(le);
  }
}

}  // namespace

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kAuto:
      return "Auto";
    case Mode::kProposal:
      return "Proposal";
    case Mode::kObserve:
      return "Observe";
  }
  return "?";
}

int64_t CreationTime(const Json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return 0;
  const Json& md = obj["metadata"];
  if (!md.contains("creationTimestamp") || !md["creationTimestamp"].is_string()) return 0;
  auto t = util::ParseRfc3339(md["creationTimestamp"].get<std::string>());
  return t ? *t : 0;
}

Result<util::LabelSelector> ShardSetSelectorOf(const Json& policy) {
  const Json* spec = Child(policy, "spec");
  const Json* sel = spec != nullptr ? Child(*spec, "shardSetSelector") : nullptr;
  if (sel != nullptr && !sel->is_object()) {
    return unexpected(
        Error{"spec.shardSetSelector: must be a map (a label selector), got " + Show(*sel)});
  }
  return util::LabelSelector::Parse(sel != nullptr ? *sel : Json(), "spec.shardSetSelector");
}

Result<MigrationPolicy> ParseMigrationPolicy(const Json& obj) {
  try {
    if (!obj.is_object()) Fail("(object)", "must be a JSON object");
    MigrationPolicy p;
    ParseMetadata(obj, p);
    const Json& spec = MapAt(obj, "spec", "");
    auto sel = ShardSetSelectorOf(obj);
    if (!sel) return unexpected(sel.error());
    p.selector = std::move(sel).value();
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
    ParseForecast(spec, p);
    ParseLimits(spec, p);
    ParseMigration(spec, p);
    ParseEvents(spec, p);
    return p;
  } catch (const FieldError& e) {
    return unexpected(Error{e.message});
  }
}

}  // namespace shardcast::api
