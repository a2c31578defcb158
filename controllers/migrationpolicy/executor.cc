// The action executor of the MigrationPolicy controller: advances the
// in-flight actions through the pure state machine (NextStep), making at
// most ONE external write per round (routing, a replica request or a hook
// call) and recording the result in status. Hook steps run only once their
// intent is in status (a.hook), and carry the fencing token.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "controllers/api/fencing.h"
#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/reconciler_state.h"
#include "controllers/planner/schedule.h"
#include "util/cron.h"

namespace shardcast::migrationpolicy {

using kube::ErrorKind;
using ms = std::chrono::milliseconds;

namespace {

constexpr size_t kHistoryLimit = 100;

bool Structural(ActionType t) {
  return t == ActionType::kPromote || t == ActionType::kScaleIn || t == ActionType::kDemote;
}

std::string EndpointOf(const MigrationPolicyReconciler::SetState& s, const std::string& pod) {
  for (const auto& p : s.pods) {
    if (p.name == pod) return shardset::Endpoint(p.ip, s.set.port);
  }
  return "";
}

}  // namespace

struct MigrationPolicyReconciler::Outcome {
  std::optional<std::string> failure;  // the step failed (AfterFailure)
  bool conflict = false;               // stale cache: re-read and retry
  bool pending = false;                // an async hook job is still running
  std::string message;                 // pending: its progress
};

bool ExecutionAllowed(const planner::Policy& p, int64_t now, std::string* why) {
  if (!p.windows.empty()) {
    bool in = false;
    for (const auto& w : p.windows) {
      auto c = util::Cron::Parse(w.cron);
      if (c && c->ActiveAt(now, w.duration_seconds)) in = true;
    }
    if (!in) {
      *why = "outside every allowed window";
      return false;
    }
  }
  for (size_t i = 0; i < p.blackouts.size(); ++i) {
    auto c = util::Cron::Parse(p.blackouts[i].cron);
    if (c && c->ActiveAt(now, p.blackouts[i].duration_seconds)) {
      *why = "inside blackout " + std::to_string(i) + " (\"" + p.blackouts[i].cron + "\")";
      return false;
    }
  }
  return true;
}

bool MigrationPolicyReconciler::MayStart(Round& r, size_t i, std::string* why) {
  const ActionRecord& a = r.actions[i];
  for (size_t j = 0; j < i; ++j) {
    const auto& b = r.actions[j];
    if (!b.terminal() && b.shard_set == a.shard_set && (Structural(b.type) || Structural(a.type))) {
      *why = "waiting for earlier actions";
      return false;
    }
  }
  // Windows and blackouts hold for execution too (a Reassign restores
  // service for ranges whose owner is gone: it does not wait).
  std::string out;
  if (a.type != ActionType::kReassign && !ExecutionAllowed(r.spec.planner, r.now, &out)) {
    *why = "waiting: " + out;
    return false;
  }
  if ((a.type == ActionType::kMove || a.type == ActionType::kAddEcho) &&
      !MayStartMigration(r.actions, r.history, r.spec.planner, r.now)) {
    *why = "waiting: maxConcurrentMigrations=" +
           std::to_string(r.spec.planner.max_concurrent_migrations) +
           " / maxMovesPerHour=" + std::to_string(r.spec.planner.max_moves_per_hour);
    return false;
  }
  return true;
}

StepWorld MigrationPolicyReconciler::world(Round& r, SetState& s, const ActionRecord& a) {
  StepWorld w;
  w.now = r.now;
  if (a.range && !s.doc.is_null()) w.range = ViewRange(s.doc, *a.range);
  if (a.other && !s.doc.is_null()) w.other = ViewRange(s.doc, *a.other);
  int active = 0;
  for (const auto& p : s.pods) {
    bool act = p.role == api::kRoleActive;
    if (act) ++active;
    if (p.name == a.source) w.source = {true, act, p.ready};
    if (p.name == a.target) w.target = {true, act, p.ready};
  }
  w.active_pods = active;
  w.replicas_spec = s.replicas;
  w.min_replicas = s.min_replicas;
  w.max_replicas = s.max_replicas;
  w.hooks = s.set.hooks.enabled;
  w.router_telemetry = s.router_telemetry;
  if (a.range) {
    auto it = s.router_stats.find(*a.range);
    if (it != s.router_stats.end()) w.router_now = it->second;
  }
  if (a.phase == Phase::kVerifying && !a.target.empty()) {
    if (!s.load) s.load = deps_.observed_load(r.spec.ns, s.name);
    auto utilization = [&](const std::string& pod) -> std::optional<double> {
      auto it = s.load->value.find(pod);
      if (it == s.load->value.end() || !ObservedIsCapacityUnit(s.set)) return std::nullopt;
      return it->second / s.set.capacity;
    };
    w.target_utilization = utilization(a.target);
    w.source_utilization = utilization(a.source);
  }
  return w;
}

MigrationPolicyReconciler::Outcome MigrationPolicyReconciler::CallHook(Round& r, SetState& s,
                                                                       const ActionRecord& a,
                                                                       Write wr,
                                                                       const StepWorld& w) {
  Outcome o;
  const bool echo = wr == Write::kHookEchoAdd || wr == Write::kHookEchoRemove;
  // The roles of this call: swapped for the reverse move; for echo hooks the
  // source is the range's owner and the target the echo pod.
  std::string src = a.hook.reverse ? a.target : a.source;
  std::string tgt = a.hook.reverse ? a.source : a.target;
  if (echo) src = w.range.owner;
  const api::HooksSpec& h = s.set.hooks;
  std::string path;
  switch (wr) {
    case Write::kHookPrepare:
      path = h.prepare_path;
      break;
    case Write::kHookCopy:
      path = h.copy_path;
      break;
    case Write::kHookCutover:
      path = h.cutover_path;
      break;
    case Write::kHookRelease:
      path = h.release_path;
      break;
    case Write::kHookAbort:
      path = h.abort_path;
      break;
    case Write::kHookEchoAdd:
      path = h.echo_add_path;
      break;
    case Write::kHookEchoRemove:
      path = h.echo_remove_path;
      break;
    default:
      o.failure = std::string("not a hook: ") + WriteName(wr);
      return o;
  }
  const std::string action = a.HookActionId();
  Json body = {{"shardSet", a.shard_set},
               {"action", action},
               {"source", src},
               {"target", tgt},
               {"sourceEndpoint", EndpointOf(s, src)},
               {"targetEndpoint", EndpointOf(s, tgt)},
               {"fencingToken", r.token}};
  if (a.range) body["range"] = *a.range;
  if (w.range.found) {
    body["start"] = w.range.start;
    body["end"] = w.range.end;
  }
  if (!s.doc.is_null()) body["epoch"] = s.doc.value("epoch", Json(0));
  const std::string pod = wr == Write::kHookRelease ? src : tgt;
  auto res = hook(s, pod, path, "POST", body);
  if (!res) {
    o.failure = res.error().message;
    return o;
  }
  if (!PollsProgress(wr)) return o;
  Json answer = Json::parse(res->body, nullptr, false);
  if (answer.is_object() && answer.value("state", Json()) == "done") return o;
  std::string q =
      h.progress_path + "?action=" + action + (a.range ? "&range=" + std::to_string(*a.range) : "");
  auto pr = hook(s, pod, q, "GET", Json());
  if (!pr) {
    o.failure = pr.error().message;
    return o;
  }
  auto prog = ParseHookProgress(pr->body);
  if (!prog) {
    o.failure = prog.error().message;
  } else if (prog->state == "failed") {
    o.failure = std::string(WriteName(wr)) + " failed on " + pod + ": " + pr->body.substr(0, 200);
  } else if (prog->state != "done") {
    o.pending = true;
    o.message = std::string(WriteName(wr)) + " on " + pod + ": " + prog->state + " " +
                std::to_string(static_cast<int>(prog->progress * 100)) + "%";
  }
  return o;
}

MigrationPolicyReconciler::Outcome MigrationPolicyReconciler::execute(Round& r, SetState& s,
                                                                      ActionRecord& a, Step& st,
                                                                      const StepWorld& w,
                                                                      const StepConfig& cfg) {
  Outcome o;
  switch (st.write) {
    case Write::kNone:
    case Write::kWait:
      return o;
    case Write::kScaleReplicas:
      // Not a write to the ShardSet: the request goes into this policy's
      // status with the action's next phase (one status write).
      r.requests[s.name] = StoredRequest{st.replicas, a.id, planner::FormatRfc3339(r.now)};
      s.replicas =
          std::clamp(st.replicas, s.min_replicas, std::max(s.min_replicas, s.max_replicas));
      return o;
    case Write::kHookPrepare:
    case Write::kHookCopy:
    case Write::kHookCutover:
    case Write::kHookRelease:
    case Write::kHookAbort:
    case Write::kHookEchoAdd:
    case Write::kHookEchoRemove:
      return CallHook(r, s, a, st.write, w);
    default:
      break;
  }
  RoutingEdit e;
  e.write = st.write;
  e.range = a.range.value_or(0);
  e.source = a.source;
  e.target = a.target;
  e.target_endpoint = EndpointOf(s, a.target);
  e.source_endpoint = EndpointOf(s, a.source);
  e.shadow_fraction = cfg.shadow_fraction;
  e.other = a.other.value_or(0);
  e.split_at = a.split_at.value_or(0);
  auto res = WriteRouting(r, s, e);
  if (!res) {
    if (res.error().kind == ErrorKind::kConflict) {
      o.conflict = true;
    } else {
      o.failure = res.error().to_string();
    }
    return o;
  }
  const Json epoch = s.doc.value("epoch", Json(0));
  if (epoch.is_number_integer()) st.next.routing_epoch = epoch.get<int64_t>();
  return o;
}

namespace {

// The state machine's settings for `spec`'s policy.
StepConfig StepConfigFor(StepConfig cfg, const PolicySpec& spec) {
  cfg.shadow = spec.shadow_enabled;
  cfg.shadow_fraction = spec.shadow_fraction;
  cfg.shadow_seconds = spec.shadow_seconds;
  cfg.verification_seconds = spec.verification_seconds;
  cfg.max_utilization = spec.planner.max_utilization;
  cfg.max_error_rate = spec.max_error_rate;
  cfg.max_latency_ratio = spec.max_latency_ratio;
  return cfg;
}

// Our own last routing write must be visible before the routing document
// is judged: a cache one epoch behind shows the range back on its source
// and would turn a finished cutover into a "revert". The wait is bounded
// by the phase timeout in case the ConfigMap was recreated from epoch 1.
// The message to show while `a` waits; nullopt when it need not.
std::optional<std::string> AwaitOwnWrite(const ActionRecord& a, const Json& doc, int64_t now,
                                         int64_t phase_timeout_seconds) {
  if (a.routing_epoch <= 0 || doc.is_null()) return std::nullopt;
  const Json e = doc.value("epoch", Json(0));
  const int64_t seen = e.is_number_integer() ? e.get<int64_t>() : 0;
  if (seen >= a.routing_epoch || now - a.phase_started_at > phase_timeout_seconds)
    return std::nullopt;
  return "waiting for the routing cache to show epoch " + std::to_string(a.routing_epoch) +
         " (it shows " + std::to_string(seen) + ")";
}

}  // namespace

void MigrationPolicyReconciler::SkipDependents(Round& r, size_t i) {
  const ActionRecord& a = r.actions[i];
  if (!(a.phase == Phase::kFailed &&
        (a.type == ActionType::kSplit || a.type == ActionType::kMerge) && a.range)) {
    return;
  }
  // Later actions planned on the halves/merged range depend on it.
  for (size_t j = i + 1; j < r.actions.size(); ++j) {
    ActionRecord& b = r.actions[j];
    if (b.phase == Phase::kPending && b.shard_set == a.shard_set && b.range == a.range) {
      b.phase = Phase::kFailed;
      b.started_at = b.phase_started_at = b.finished_at = r.now;
      b.message = "depends on " + a.id + " (" + ActionTypeName(a.type) + "), which failed";
      event(r.obj, true, "ActionSkipped", b.id + ": " + b.message);
    }
  }
}

void MigrationPolicyReconciler::RetireFinished(Round& r) {
  // Finished actions go to history, newest first, and are counted.
  std::vector<ActionRecord> keep;
  for (auto& a : r.actions) {
    if (!a.terminal()) {
      keep.push_back(a);
      continue;
    }
    if (migrations_ != nullptr && (a.type == ActionType::kMove || a.type == ActionType::kAddEcho)) {
      migrations_
          ->with({{"shardset", r.spec.ns + "/" + a.shard_set}, {"result", PhaseName(a.phase)}})
          ->inc();
    }
    r.history.insert(r.history.begin(), a);
  }
  r.actions = std::move(keep);
  if (r.history.size() > kHistoryLimit) r.history.resize(kHistoryLimit);
}

std::optional<ms> MigrationPolicyReconciler::StepActions(Round& r) {
  std::optional<ms> requeue;
  auto want = [&](ms d) { requeue = requeue ? std::min(*requeue, d) : d; };
  const StepConfig cfg = StepConfigFor(deps_.step, r.spec);

  for (size_t i = 0; i < r.actions.size(); ++i) {
    ActionRecord& a = r.actions[i];
    if (a.terminal()) continue;
    LoadSet(r, a.shard_set);
    SetState& s = r.sets[a.shard_set];
    if (!s.exists) {
      a = AfterFailure(a, "ShardSet " + a.shard_set + " not found", cfg, r.now);
      if (!a.terminal()) want(RetryBackoff(a.attempts));
      continue;
    }
    std::string why;
    if (a.phase == Phase::kPending && !MayStart(r, i, &why)) {
      a.message = why;
      want(ms(2000));
      continue;
    }
    const StepWorld w = world(r, s, a);
    if (auto wait = AwaitOwnWrite(a, s.doc, r.now, cfg.phase_timeout_seconds)) {
      a.message = *wait;
      want(ms(200));
      continue;
    }
    if (a.retry_at > r.now) {
      want(ms((a.retry_at - r.now) * 1000));  // backoff after a failed step
      continue;
    }
    Step st = NextStep(a, w, cfg);
    if (st.write == Write::kWait) {
      a = st.next;
      want(st.requeue);
      continue;
    }
    Outcome o = execute(r, s, a, st, w, cfg);
    if (o.conflict) {
      want(ms(200));  // the cache is behind: re-read and retry next round
      break;
    }
    if (o.failure) {
      spdlog::warn("migrationpolicy {}: {} {}: {}", r.key, a.id, WriteName(st.write), *o.failure);
      const Phase before = a.phase;
      const std::string pod = HookPod(a, st.write);
      a = AfterFailure(a, *o.failure, cfg, r.now, pod);
      if (a.phase != before && (a.phase == Phase::kAborting || a.phase == Phase::kReverting)) {
        event(r.obj, true, "MoveAbandoned", a.id + ": " + a.message);
      }
      if (auto n = NoticeAfterFailure(a, pod, *o.failure, cfg)) {
        event(r.obj, true, n->reason, n->message);
      }
      want(RetryBackoff(a.attempts == 0 ? 1 : a.attempts));
      break;
    }
    if (o.pending) {  // the hook's job runs: the intent stays, progress is shown
      a.message = o.message;
      a.retry_at = 0;
      want(ms(500));
      break;
    }
    a = st.next;
    a.retry_at = 0;
    if (!st.event.empty()) event(r.obj, st.warning, st.event, st.event_message);
    SkipDependents(r, i);
    want(st.requeue);
    break;
  }
  // Say why the Pending actions this round did not reach are waiting, and
  // which actions keep retrying a step they cannot give up.
  for (size_t i = 0; i < r.actions.size(); ++i) {
    ActionRecord& a = r.actions[i];
    std::string why;
    if (a.phase == Phase::kPending && !MayStart(r, i, &why)) a.message = why;
    if (Stuck(a, cfg)) r.notes.push_back(a.id + " (" + PhaseName(a.phase) + "): " + a.message);
  }
  RetireFinished(r);
  return requeue;
}

kube::ApiStatus MigrationPolicyReconciler::WriteRouting(Round& r, SetState& s,
                                                        const RoutingEdit& edit) {
  if (s.cm.is_null() || s.doc.is_null()) {
    return kube::MakeApiError(ErrorKind::kNotFound,
                              "routing ConfigMap " + s.cm_name + " has no valid routing document");
  }
  auto doc = ApplyRoutingEdit(s.doc, edit);
  if (!doc) return kube::MakeApiError(ErrorKind::kInvalid, doc.error().message);
  return WriteDocument(r, s, *doc,
                       std::string(WriteName(edit.write)) + " range " + std::to_string(edit.range));
}

// Every routing write: refused when the ConfigMap carries a larger fencing
// token or ours may no longer write; stamps our token.
kube::ApiStatus MigrationPolicyReconciler::WriteDocument(Round& r, SetState& s, const Json& doc,
                                                         const std::string& what) {
  if (s.cm.is_null()) {
    return kube::MakeApiError(ErrorKind::kNotFound,
                              "routing ConfigMap " + s.cm_name + " not found");
  }
  uint64_t theirs = api::FencingTokenOf(s.cm);
  if (theirs > r.token) {
    return kube::MakeApiError(ErrorKind::kForbidden,
                              "ConfigMap " + s.cm_name + " carries fencing token " +
                                  std::to_string(theirs) + " > ours " + std::to_string(r.token) +
                                  "; refusing to write");
  }
  if (!deps_.may_write(r.base))
    return kube::MakeApiError(ErrorKind::kForbidden, "fencing token no longer valid");
  Json cm = s.cm;
  Json& md = cm["metadata"];
  if (!md.contains("annotations") || !md["annotations"].is_object())
    md["annotations"] = Json::object();
  md["annotations"][api::kAnnotationFencing] = std::to_string(r.token);
  cm["data"][api::kRoutingKey] = doc.dump();
  auto w = deps_.client->update(kube::resources::kConfigMaps, r.spec.ns, cm);
  if (!w) return unexpected(w.error());
  s.cm = *w;
  s.doc = doc;
  spdlog::info("migrationpolicy {}: routing {} epoch {}: {}", r.key, s.cm_name,
               doc.value("epoch", Json(0)).dump(), what);
  return {};
}

bool MigrationPolicyReconciler::RefreshDocumentEndpoints(Round& r) {
  for (const auto& name : r.sel.governed) {
    LoadSet(r, name);
    SetState& s = r.sets[name];
    if (!s.exists || !s.problem.empty() || s.doc.is_null()) continue;
    std::map<std::string, std::string> eps;
    for (const auto& p : s.pods) {
      if (!p.ip.empty()) eps[p.name] = shardset::Endpoint(p.ip, s.set.port);
    }
    auto doc = RefreshEndpoints(s.doc, eps);
    if (!doc) continue;
    auto w = WriteDocument(r, s, *doc, "endpoint refresh");
    if (!w) {
      r.notes.push_back(name + ": endpoint refresh: " + w.error().to_string());
      continue;
    }
    return true;
  }
  return false;
}

Result<HookResponse> MigrationPolicyReconciler::hook(SetState& s, const std::string& pod,
                                                     const std::string& path,
                                                     const std::string& method, const Json& body) {
  std::string ip;
  for (const auto& p : s.pods) {
    if (p.name == pod) ip = p.ip;
  }
  std::string ep = deps_.hook_endpoint(pod, ip, s.set.hooks.port);
  if (ep.empty()) return unexpected(Error{"hook: pod " + pod + " has no IP yet"});
  auto res = deps_.hooks->call(method, ep, path, body.is_null() ? std::string() : body.dump(),
                               std::chrono::seconds(s.set.hooks.timeout_seconds));
  if (!res) return res;
  if (res->status < 200 || res->status >= 300) {
    return unexpected(Error{"hook " + method + " " + path + " on " + pod + ": HTTP " +
                            std::to_string(res->status) +
                            (res->body.empty() ? "" : ": " + res->body.substr(0, 200))});
  }
  return res;
}

Result<uint64_t> MigrationPolicyReconciler::TermToken(uint64_t base, const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (base != term_base_) {
    term_base_ = base;
    term_tokens_.clear();
  }
  if (auto it = term_tokens_.find(ns); it != term_tokens_.end()) return it->second;
  // First round of the term in this namespace: read every token recorded
  // here from the API server (not the cache, which may be behind). Per
  // namespace: the operator's RBAC may be namespaced, and every object a
  // token guards (routing ConfigMaps, policy status, the ShardSet's agents)
  // lives in the namespace of its ShardSet.
  kube::ListOptions o;
  o.label_selector = api::kLabelShardSet;
  auto cms = deps_.client->ListAll(kube::resources::kConfigMaps, ns, o);
  if (!cms) {
    return unexpected(Error{"fencing: listing routing ConfigMaps: " + cms.error().to_string()});
  }
  auto pols = deps_.client->ListAll(api::kMigrationPolicies, ns, {});
  if (!pols) {
    return unexpected(Error{"fencing: listing MigrationPolicies: " + pols.error().to_string()});
  }
  std::vector<Json> recorded = std::move(cms->items);
  recorded.insert(recorded.end(), pols->items.begin(), pols->items.end());
  const uint64_t highest = api::HighestFencingToken(recorded);
  const uint64_t token = api::TermToken(base, highest);
  term_tokens_[ns] = token;
  spdlog::info(
      "migrationpolicy: namespace {}: fencing token {} (manager token {}, highest "
      "recorded {})",
      ns, token, base, highest);
  return token;
}

void MigrationPolicyReconciler::AdoptRequests(Round& r) {
  for (const auto& name : r.sel.governed) {
    LoadSet(r, name);
    SetState& s = r.sets[name];
    if (!s.exists || !s.problem.empty() || s.doc.is_null()) continue;
    const auto reqs = ParseOwnershipRequests(s.obj);
    if (reqs.empty()) continue;
    std::vector<PodInfo> pods;
    for (const auto& p : s.pods) pods.push_back({p.name, p.role, p.ready, p.ip});
    std::vector<ActionRecord> known = r.actions;
    known.insert(known.end(), r.history.begin(), r.history.end());
    auto acts = ActionsForRequests(reqs, name, s.doc, pods, known, r.now);
    if (acts.size() < reqs.size()) {
      r.notes.push_back(name + ": " + std::to_string(reqs.size()) + " ownership request(s), " +
                        std::to_string(acts.size()) +
                        " newly acted on (the rest are in flight or have no Ready target)");
    }
    for (auto& a : acts) {
      if (r.spec.mode == Mode::kObserve) {
        r.notes.push_back(name + ": " + a.message + " (Observe mode: not acted on)");
      } else if (r.spec.mode == Mode::kAuto || a.type == ActionType::kReassign) {
        // A Reassign restores service for ranges whose data is already
        // lost: it runs without waiting for an approval.
        event(r.obj, a.type == ActionType::kReassign, "OwnershipRequest",
              a.id + ": " + a.message + "; " + ActionTypeName(a.type) + " to " + a.target);
        r.actions.insert(r.actions.begin(), a);
      } else {
        r.request_moves[name].push_back(a);
      }
    }
  }
}

}  // namespace shardcast::migrationpolicy
