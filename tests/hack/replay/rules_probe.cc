// The C++ rules hack/replay/oracle.py copies, run on cases from stdin, so
// rules_test.py can prove the Python copies equal on generated cases:
//   history  status records of a plan's actions (ActionsFromPlan, completed at
//            once) -> the planner History (HistoryFrom), as `shardcast plan`
//            reads it in state.json's "history";
//   warm     the warm pool after the ShardSet controller's rounds
//            (ComputeDesired: delete excess warm pods, create missing ones
//            at the lowest free ordinal) until it has nothing to do.
// Input: {"history": [{"now": T, "records": [{"t": T, "action": <one action
// of `shardcast plan -o json`>}, ...]}, ...], "warm": [{"set": "kv", "pool": N,
// "active": [...], "warm": [...], "echoes": [...]}, ...]}. Output: the same
// keys with one answer per case.
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/planner/placement.h"
#include "controllers/planner/planner.h"
#include "controllers/shardset/shardset.h"

namespace {

using Json = nlohmann::json;
namespace pl = shardcast::planner;
namespace mp = shardcast::migrationpolicy;
namespace ss = shardcast::shardset;

pl::ActionType TypeOf(const std::string& s) {
  for (auto t : {pl::ActionType::kPromote, pl::ActionType::kMove, pl::ActionType::kAddEcho,
                 pl::ActionType::kRemoveEcho, pl::ActionType::kSplit, pl::ActionType::kMerge,
                 pl::ActionType::kDemote, pl::ActionType::kScaleIn}) {
    if (s == pl::ActionTypeName(t)) return t;
  }
  throw std::runtime_error("unknown action type " + s);
}

// One action of `shardcast plan -o json` (operator/cmd/plan.cc ToJson).
pl::Action ActionOf(const Json& j) {
  pl::Action a;
  a.type = TypeOf(j.at("type").get<std::string>());
  if (j.contains("range")) a.range = j["range"].get<uint32_t>();
  if (j.contains("newRange")) a.other = j["newRange"].get<uint32_t>();
  if (j.contains("absorbedRange")) a.other = j["absorbedRange"].get<uint32_t>();
  if (j.contains("splitAt")) a.split_at = j["splitAt"].get<uint32_t>();
  a.pod = j.value("pod", "");
  a.from = j.value("from", "");
  a.to = j.value("to", "");
  return a;
}

Json History(const Json& c) {
  std::vector<mp::ActionRecord> records;
  for (const auto& r : c.at("records")) {
    pl::Plan plan;
    plan.actions.push_back(ActionOf(r.at("action")));
    for (auto rec : mp::ActionsFromPlan("p", "kv", plan)) {
      rec.phase = mp::Phase::kCompleted;
      rec.started_at = rec.finished_at = r.at("t").get<int64_t>();
      records.push_back(rec);
    }
  }
  pl::History h = mp::HistoryFrom({}, records, c.at("now").get<int64_t>());
  Json out = {{"moves", h.move_times}, {"inFlightMigrations", h.in_flight_migrations}};
  out["rangeLastAction"] = Json::object();
  for (const auto& [id, t] : h.range_last_action) out["rangeLastAction"][std::to_string(id)] = t;
  out["rangeLastEcho"] = Json::object();
  for (const auto& [id, t] : h.range_last_echo) out["rangeLastEcho"][std::to_string(id)] = t;
  out["podLastAction"] = Json::object();
  for (const auto& [pod, t] : h.pod_last_action) out["podLastAction"][pod] = t;
  out["promotionSeconds"] = h.promotion_seconds ? Json(*h.promotion_seconds) : Json();
  out["moveSeconds"] = h.move_seconds ? Json(*h.move_seconds) : Json();
  out["lastPromotion"] = h.last_promotion ? Json(*h.last_promotion) : Json();
  return out;
}

ss::ObservedPod PodOf(const std::string& name, const char* role, bool ready) {
  ss::ObservedPod p;
  p.name = name;
  p.uid = "uid-" + name;
  p.role = role;
  p.phase = "Running";
  p.ready = ready;
  p.ordinal = pl::PodOrdinal(name);
  return p;
}

Json Warm(const Json& c) {
  ss::ShardSetSpec set;
  set.name = c.at("set").get<std::string>();
  set.warm_pool = c.at("pool").get<int>();
  const auto active = c.at("active").get<std::vector<std::string>>();
  set.replicas = static_cast<int>(active.size());
  ss::Observation obs;
  // Active pods not Ready: the controller then writes no routing and the
  // round is about the warm pool alone (readiness of active pods plays no
  // part in it).
  for (const auto& n : active) obs.pods.push_back(PodOf(n, shardcast::api::kRoleActive, false));
  for (const auto& n : c.at("warm"))
    obs.pods.push_back(PodOf(n.get<std::string>(), shardcast::api::kRoleWarm, true));
  ss::RoutingDocument doc;
  ss::RoutingRange range;
  range.owner = active.empty() ? "" : active.front();
  range.raw = {{"echoes", Json::array()}};
  for (const auto& e : c.at("echoes")) range.raw["echoes"].push_back({{"pod", e}});
  doc.ranges.push_back(range);
  obs.routing = doc;
  for (int round = 0; round < 20; ++round) {
    ss::Desired d = ss::ComputeDesired(set, obs);
    if (d.kind == ss::StepKind::kDeletePods) {
      for (const auto& r : d.remove) {
        std::erase_if(obs.pods, [&](const ss::ObservedPod& p) { return p.name == r.name; });
      }
    } else if (d.kind == ss::StepKind::kCreatePods) {
      for (const auto& cr : d.create)
        obs.pods.push_back(PodOf(ss::PodName(set, cr.ordinal), cr.role.c_str(), true));
    } else {
      break;
    }
  }
  Json warm = Json::array();
  for (const auto& p : obs.pods) {
    if (p.role == shardcast::api::kRoleWarm) warm.push_back(p.name);
  }
  return warm;
}

}  // namespace

int main() {
  try {
    Json in = Json::parse(std::string(std::istreambuf_iterator<char>(std::cin), {}));
    Json out = {{"history", Json::array()}, {"warm", Json::array()}};
    for (const auto& c : in.value("history", Json::array())) out["history"].push_back(History(c));
    for (const auto& c : in.value("warm", Json::array())) out["warm"].push_back(Warm(c));
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "rules_probe: " << e.what() << "\n";
    return 2;
  }
}
