// Status actions (one parser + serializer), proposals, limits, conditions.
// Policy parsing, selection and the planner input are in plan_input.cc.
#include <algorithm>
#include <cmath>
#include <set>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "util/time.h"

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

std::string Str(const Json& obj, const char* key, const std::string& def,
                const std::string& field) {
  const Json* c = Child(obj, key, field);
  if (c == nullptr) return def;
  if (!c->is_string()) Fail(field + "." + key, "must be a string, got " + c->dump());
  return c->get<std::string>();
}

int64_t TimeOf(const Json& j) {
  if (!j.is_string()) return 0;
  auto t = util::ParseRfc3339(j.get<std::string>());
  return t ? *t : 0;
}

std::string TimeStr(int64_t t) { return t > 0 ? util::FormatRfc3339(t) : std::string(); }

}  // namespace

// ---- actions ----

namespace {

Json CountersToJson(const RouterCounters& c) {
  Json j = {{"requests", c.requests},
            {"errors", c.errors},
            {"shadowCompared", c.compared},
            {"shadowMismatches", c.mismatches},
            {"shadowOwnerSecondsSum", c.owner_seconds},
            {"shadowTargetSecondsSum", c.target_seconds}};
  if (c.observed_at > 0) j["observedAt"] = TimeStr(c.observed_at);
  return j;
}

// Router counters (the C2 field names); absent numbers are 0. `field` names
// the first offending key when `strict`; tolerant readers skip instead.
std::optional<RouterCounters> CountersFromJson(const Json& j, const std::string& field,
                                               bool strict) {
  if (!j.is_object()) {
    if (strict) Fail(field, "must be an object");
    return std::nullopt;
  }
  RouterCounters c;
  const std::pair<const char*, double*> keys[] = {{"requests", &c.requests},
                                                  {"errors", &c.errors},
                                                  {"shadowCompared", &c.compared},
                                                  {"shadowMismatches", &c.mismatches},
                                                  {"shadowOwnerSecondsSum", &c.owner_seconds},
                                                  {"shadowTargetSecondsSum", &c.target_seconds}};
  for (const auto& [k, dst] : keys) {
    if (!j.contains(k) || j[k].is_null()) continue;
    if (!j[k].is_number() || j[k].get<double>() < 0 || !std::isfinite(j[k].get<double>())) {
      if (strict) Fail(field + "." + k, "must be a non-negative number");
      return std::nullopt;
    }
    *dst = j[k].get<double>();
  }
  if (j.contains("observedAt")) c.observed_at = TimeOf(j["observedAt"]);
  return c;
}

}  // namespace

Json ActionToJson(const ActionRecord& a) {
  Json j = {{"id", a.id},
            {"shardSet", a.shard_set},
            {"type", ActionTypeName(a.type)},
            {"phase", PhaseName(a.phase)},
            {"attempts", a.attempts}};
  if (a.range) j["range"] = *a.range;
  if (a.other) j["other"] = *a.other;
  if (a.split_at) j["splitAt"] = *a.split_at;
  if (!a.source.empty()) j["source"] = a.source;
  if (!a.target.empty()) j["target"] = a.target;
  if (a.started_at > 0) j["startedAt"] = TimeStr(a.started_at);
  if (a.phase_started_at > 0) j["phaseStartedAt"] = TimeStr(a.phase_started_at);
  if (a.finished_at > 0) j["finishedAt"] = TimeStr(a.finished_at);
  if (!a.message.empty()) j["message"] = a.message;
  if (a.routing_epoch > 0) j["routingEpoch"] = a.routing_epoch;
  if (a.retry_at > 0) j["retryAt"] = TimeStr(a.retry_at);
  if (a.hook.step != HookStep::kNone) {
    j["hook"] = {{"step", HookStepName(a.hook.step)}, {"state", HookStateName(a.hook.state)}};
    if (a.hook.reverse) j["hook"]["reverse"] = true;
  }
  if (a.router_baseline) j["routerBaseline"] = CountersToJson(*a.router_baseline);
  if (!a.request.empty()) j["ownershipRequest"] = a.request;
  return j;
}

namespace {

HookRecord HookFromJson(const Json& h, const std::string& field) {
  if (!h.is_object()) Fail(field, "must be an object");
  HookRecord r;
  const std::string step = Str(h, "step", "", field);
  bool found = false;
  for (HookStep s : {HookStep::kPrepare, HookStep::kCopy, HookStep::kCutover, HookStep::kRelease,
                     HookStep::kAbort, HookStep::kEchoAdd, HookStep::kEchoRemove}) {
    if (step == HookStepName(s)) {
      r.step = s;
      found = true;
    }
  }
  if (!found) {
    Fail(field + ".step",
         "must be Prepare, Copy, Cutover, Release, Abort, EchoAdd or "
         "EchoRemove, got \"" +
             step + "\"");
  }
  const std::string state = Str(h, "state", "", field);
  if (state != "Intent" && state != "Done")
    Fail(field + ".state", "must be Intent or Done, got \"" + state + "\"");
  r.state = state == "Intent" ? HookState::kIntent : HookState::kDone;
  if (h.contains("reverse") && !h["reverse"].is_null()) {
    if (!h["reverse"].is_boolean()) Fail(field + ".reverse", "must be a boolean");
    r.reverse = h["reverse"].get<bool>();
  }
  return r;
}

void ReadRangeIds(const Json& j, const std::string& field, ActionRecord& a) {
  if (j.contains("range") && !j["range"].is_null()) {
    if (!j["range"].is_number_unsigned() || j["range"].get<uint64_t>() > UINT32_MAX)
      Fail(field + ".range", "must be a range id");
    a.range = j["range"].get<uint32_t>();
  }
  for (const char* k : {"other", "splitAt"}) {
    if (!j.contains(k) || j[k].is_null()) continue;
    if (!j[k].is_number_unsigned() || j[k].get<uint64_t>() > UINT32_MAX) {
      Fail(field + "." + k, "must be an integer in 0..4294967295");
    }
    (std::string(k) == "other" ? a.other : a.split_at) = j[k].get<uint32_t>();
  }
  if (a.type == ActionType::kSplit && (!a.range || !a.other || !a.split_at))
    Fail(field, "Split needs range, other and splitAt");
  if (a.type == ActionType::kMerge && (!a.range || !a.other))
    Fail(field, "Merge needs range and other");
}

}  // namespace

Result<ActionRecord> ActionFromJson(const Json& j, const std::string& field) {
  try {
    if (!j.is_object()) Fail(field, "must be an object");
    ActionRecord a;
    a.id = Str(j, "id", "", field);
    if (a.id.empty()) Fail(field + ".id", "required");
    a.shard_set = Str(j, "shardSet", "", field);
    const std::string type = Str(j, "type", "", field);
    auto t = ParseActionType(type);
    if (!t) Fail(field + ".type", "unknown action type \"" + type + "\"");
    a.type = *t;
    ReadRangeIds(j, field, a);
    a.source = Str(j, "source", "", field);
    a.target = Str(j, "target", "", field);
    const std::string phase = Str(j, "phase", "Pending", field);
    auto p = ParsePhase(phase);
    if (!p) Fail(field + ".phase", "unknown phase \"" + phase + "\"");
    a.phase = *p;
    if (j.contains("startedAt")) a.started_at = TimeOf(j["startedAt"]);
    if (j.contains("phaseStartedAt")) a.phase_started_at = TimeOf(j["phaseStartedAt"]);
    if (j.contains("finishedAt")) a.finished_at = TimeOf(j["finishedAt"]);
    if (j.contains("retryAt")) a.retry_at = TimeOf(j["retryAt"]);
    if (j.contains("attempts") && j["attempts"].is_number_integer())
      a.attempts = j["attempts"].get<int>();
    a.message = Str(j, "message", "", field);
    a.request = Str(j, "ownershipRequest", "", field);
    if (j.contains("routingEpoch")) {
      if (!j["routingEpoch"].is_number_integer() || j["routingEpoch"].get<int64_t>() < 0) {
        Fail(field + ".routingEpoch", "must be a non-negative integer");
      }
      a.routing_epoch = j["routingEpoch"].get<int64_t>();
    }
    if (j.contains("hook") && !j["hook"].is_null())
      a.hook = HookFromJson(j["hook"], field + ".hook");
    if (j.contains("routerBaseline") && !j["routerBaseline"].is_null())
      a.router_baseline = CountersFromJson(j["routerBaseline"], field + ".routerBaseline", true);
    return a;
  } catch (const FieldError& e) {
    return unexpected(Error{e.message});
  }
}

std::map<uint32_t, RouterCounters> ParseRouterStats(const Json& shardset) {
  std::map<uint32_t, RouterCounters> out;
  if (!shardset.is_object() || !shardset.contains("status")) return out;
  const Json& st = shardset["status"];
  if (!st.is_object() || !st.contains("routerStats") || !st["routerStats"].is_object()) return out;
  const Json& rs = st["routerStats"];
  const int64_t at = rs.contains("observedAt") ? TimeOf(rs["observedAt"]) : 0;
  if (!rs.contains("ranges") || !rs["ranges"].is_array()) return out;
  for (const auto& r : rs["ranges"]) {
    if (!r.is_object() || !r.contains("range") || !r["range"].is_number_unsigned()) continue;
    auto c = CountersFromJson(r, "", false);
    if (!c) continue;
    c->observed_at = at;
    out[r["range"].get<uint32_t>()] = *c;
  }
  return out;
}

std::vector<ActionRecord> ActionsFromPlan(const std::string& plan_id, const std::string& shard_set,
                                          const planner::Plan& plan) {
  std::vector<ActionRecord> out;
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const auto& pa = plan.actions[i];
    ActionRecord a;
    a.id = plan_id + "-" + std::to_string(i);
    a.shard_set = shard_set;
    a.type = FromPlanner(pa.type);
    a.range = pa.range;
    a.other = pa.other;
    a.split_at = pa.split_at;
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

std::string ProposalId(const std::string& plan_id, int64_t created_at) {
  return plan_id + "-" + std::to_string(created_at);
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

Json BuildProposal(const std::vector<ProposalPlan>& plans, int64_t now, int64_t ttl_seconds,
                   const std::string& note) {
  std::string plan_id;
  if (plans.size() == 1) {
    plan_id = plans[0].plan.id;
  } else {
    uint64_t h = Fnv("");
    for (const auto& p : plans) h = Fnv(p.shard_set + "/" + p.plan.id, h);
    char buf[32];
    snprintf(buf, sizeof(buf), "plan-%016llx", static_cast<unsigned long long>(h));
    plan_id = buf;
  }
  std::string id = ProposalId(plan_id, now);
  Json actions = Json::array();
  Json reasons = Json::array();
  if (!note.empty()) reasons.push_back(note);
  int before = 0, after = 0;
  Json pods = Json::array();
  int64_t moved_ranges = 0, lower_bound = 0;
  std::optional<double> bytes;
  for (const auto& pp : plans) {
    for (const auto& a : ActionsFromPlan(id, pp.shard_set, pp.plan)) {
      Json j = {{"id", a.id},
                {"shardSet", a.shard_set},
                {"type", ActionTypeName(a.type)},
                {"reason", a.message}};
      if (a.range) j["range"] = *a.range;
      if (a.other) j["other"] = *a.other;
      if (a.split_at) j["splitAt"] = *a.split_at;
      if (!a.source.empty()) j["source"] = a.source;
      if (!a.target.empty()) j["target"] = a.target;
      actions.push_back(j);
    }
    for (const auto& row : pp.plan.pods) {
      if (row.role == planner::PodRole::kActive) ++after;
      if (row.ranges_before > 0 || (row.role == planner::PodRole::kActive && row.ranges_after == 0))
        ++before;
      pods.push_back({{"shardSet", pp.shard_set},
                      {"pod", row.pod},
                      {"role", row.role == planner::PodRole::kActive ? "active" : "warm"},
                      {"utilizationBefore", Pct(row.before)},
                      {"utilizationAfter", Pct(row.after)},
                      {"observedUtilization", Pct(row.observed)},
                      {"rangesBefore", row.ranges_before},
                      {"rangesAfter", row.ranges_after}});
      reasons.push_back(pp.shard_set + "/" + row.pod + ": utilization " + Pct(row.before) + " -> " +
                        Pct(row.after) + " (observed " + Pct(row.observed) + "), ranges " +
                        std::to_string(row.ranges_before) + " -> " +
                        std::to_string(row.ranges_after));
    }
    std::string moved = pp.shard_set + ": " + std::to_string(pp.plan.moves) +
                        " range(s) moved (lower bound " +
                        std::to_string(pp.plan.moved_lower_bound) + ")";
    if (pp.bytes_moved)
      moved += ", ~" + std::to_string(static_cast<long long>(*pp.bytes_moved)) + " bytes";
    moved_ranges += static_cast<int64_t>(pp.plan.moves);
    lower_bound += static_cast<int64_t>(pp.plan.moved_lower_bound);
    if (pp.bytes_moved) bytes = bytes.value_or(0) + *pp.bytes_moved;
    reasons.push_back(moved);
    for (const auto& b : pp.plan.blocked)
      reasons.push_back(pp.shard_set + ": blocked: " + b.subject + ": " + b.message);
  }
  Json p = {{"id", id},
            {"createdAt", TimeStr(now)},
            {"expiresAt", TimeStr(now + ttl_seconds)},
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
  if (!approve.empty() && approve == proposal["id"].get<std::string>())
    return ProposalVerdict::kApproved;
  return ProposalVerdict::kPending;
}

Result<std::vector<ActionRecord>> ActionsFromProposal(const Json& proposal) {
  std::vector<ActionRecord> out;
  if (!proposal.is_object() || !proposal.contains("actions")) return out;
  if (!proposal["actions"].is_array())
    return unexpected(Error{"status.proposal.actions: must be a list"});
  const Json& as = proposal["actions"];
  for (size_t i = 0; i < as.size(); ++i) {
    Json j = as[i];
    std::string reason = j.is_object() ? j.value("reason", std::string()) : std::string();
    auto a = ActionFromJson(j, "status.proposal.actions[" + std::to_string(i) + "]");
    if (!a) return unexpected(a.error());
    a->phase = Phase::kPending;
    a->message = reason;
    out.push_back(*a);
  }
  return out;
}

// ---- limits and history ----

namespace {
bool CopiesData(const ActionRecord& a) {
  return a.type == ActionType::kMove || a.type == ActionType::kAddEcho;
}
}  // namespace

bool MayStartMigration(const std::vector<ActionRecord>& actions,
                       const std::vector<ActionRecord>& history, const planner::Policy& p,
                       int64_t now) {
  int inflight = 0, last_hour = 0;
  for (const auto* list : {&actions, &history}) {
    for (const auto& a : *list) {
      if (!CopiesData(a) || a.started_at == 0) continue;
      if (!a.terminal()) ++inflight;
      if (now - a.started_at < 3600) ++last_hour;
    }
  }
  return inflight < p.max_concurrent_migrations && last_hour < p.max_moves_per_hour;
}

namespace {

// When a switched Move handed its range over: the router baseline taken at
// the cutover, else the Verifying phase start, else the finish.
int64_t HandoverTime(const ActionRecord& a) {
  int64_t at = a.router_baseline && a.router_baseline->observed_at > 0
                   ? a.router_baseline->observed_at
               : a.phase == Phase::kVerifying ? a.phase_started_at
                                              : a.finished_at;
  if (at <= 0) at = std::max(a.phase_started_at, a.started_at);
  return at;
}

// The upper median (of an even count, the upper middle), if any.
std::optional<double> UpperMedian(std::vector<double> xs) {
  if (xs.empty()) return std::nullopt;
  auto mid = xs.begin() + static_cast<std::ptrdiff_t>(xs.size() / 2);
  std::nth_element(xs.begin(), mid, xs.end());
  return *mid;
}

}  // namespace

planner::History HistoryFrom(const std::vector<ActionRecord>& actions,
                             const std::vector<ActionRecord>& history, int64_t now) {
  planner::History h;
  for (const auto* list : {&actions, &history}) {
    for (const auto& a : *list) {
      if (a.started_at == 0) continue;
      int64_t last = std::max(a.started_at, a.finished_at);
      if (CopiesData(a)) {
        if (now - a.started_at < 3600) h.move_times.push_back(a.started_at);
        if (!a.terminal()) ++h.in_flight_migrations;
      }
      const bool echo = a.type == ActionType::kAddEcho || a.type == ActionType::kRemoveEcho;
      if (a.range) {
        auto& at = (echo ? h.range_last_echo : h.range_last_action)[*a.range];
        at = std::max(at, last);
      }
      if (a.type == ActionType::kPromote) {
        h.last_promotion = std::max(h.last_promotion.value_or(a.started_at), a.started_at);
      }
      // Both halves of a split cool down: otherwise the new upper half is
      // split again at once while a stale pod forecast still calls its owner
      // hot, and the key space is cut ever finer.
      if (a.other && (a.type == ActionType::kSplit || a.type == ActionType::kMerge)) {
        h.range_last_action[*a.other] = std::max(h.range_last_action[*a.other], last);
      }
      // A pod's cooldown keeps it from flapping between roles: moves and
      // echoes cool their ranges, not the pods (an echo on a warm pod is a
      // pre-warm for its promotion, which must not then be refused).
      const bool pod_action = a.type != ActionType::kMove && !echo;
      for (const auto& pod : {a.source, a.target}) {
        if (!pod.empty() && pod_action)
          h.pod_last_action[pod] = std::max(h.pod_last_action[pod], last);
      }
    }
  }
  std::sort(h.move_times.begin(), h.move_times.end());
  std::vector<double> promotions, moves;
  for (const auto& a : history) {
    if (a.phase != Phase::kCompleted || a.started_at <= 0) continue;
    if (a.type == ActionType::kPromote && a.finished_at >= a.started_at) {
      promotions.push_back(static_cast<double>(a.finished_at - a.started_at));
    }
    if (a.type == ActionType::kMove) {
      const int64_t at = HandoverTime(a);
      if (at >= a.started_at) moves.push_back(static_cast<double>(at - a.started_at));
    }
  }
  h.promotion_seconds = UpperMedian(std::move(promotions));
  h.move_seconds = UpperMedian(std::move(moves));
  return h;
}

std::vector<Handover> Handovers(const std::vector<ActionRecord>& actions,
                                const std::vector<ActionRecord>& history,
                                const std::string& shard_set) {
  std::vector<Handover> out;
  for (const auto* list : {&actions, &history}) {
    for (const auto& a : *list) {
      if (a.type != ActionType::kMove || !a.range || a.shard_set != shard_set || a.source.empty() ||
          a.target.empty()) {
        continue;
      }
      const bool switched = a.phase == Phase::kVerifying || a.phase == Phase::kReleasing ||
                            a.phase == Phase::kCompleted;
      if (!switched) continue;
      out.push_back({*a.range, a.source, a.target, HandoverTime(a)});
    }
  }
  return out;
}

// ---- conditions ----

Json BuildConditions(const std::vector<Condition>& conds, const Json& previous, int64_t generation,
                     const std::string& now) {
  Json out = Json::array();
  for (const auto& c : conds) {
    std::string ltt = now;
    if (previous.is_array()) {
      for (const auto& p : previous) {
        if (p.is_object() && p.value("type", Json()) == c.type &&
            p.value("status", Json()) == c.status && p.contains("lastTransitionTime") &&
            p["lastTransitionTime"].is_string()) {
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
