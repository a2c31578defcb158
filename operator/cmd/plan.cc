// `shardcast plan` (see docs/planner.md for the input formats): flags and
// output; the inputs are read by plan_input.cc.
#include "operator/cmd/plan.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controllers/planner/planner.h"
#include "controllers/planner/schedule.h"
#include "operator/cmd/plan_input.h"

namespace shardcast::cli {

namespace {

using nlohmann::json;
namespace pl = shardcast::planner;
using plan_input::ParseForecast;
using plan_input::ParsePolicy;
using plan_input::ParseReplay;
using plan_input::ParseState;

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
      return s + " range " + std::to_string(*a.range) + " at key " + std::to_string(*a.split_at) +
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
  j["movedLowerBound"] = p.moved_lower_bound;
  j["actions"] = json::array();
  for (const auto& a : p.actions) {
    json x;
    x["type"] = pl::ActionTypeName(a.type);
    if (a.range) x["range"] = *a.range;
    if (a.other) x[a.type == pl::ActionType::kSplit ? "newRange" : "absorbedRange"] = *a.other;
    if (a.split_at) x["splitAt"] = *a.split_at;
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
                         {"rangesBefore", r.ranges_before},
                         {"rangesAfter", r.ranges_after}});
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
     << p.moved_lower_bound << ")\n";
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
                  Pct(r.before).c_str(), Pct(r.after).c_str(), r.imbalance * 100, r.ranges_before,
                  r.ranges_after);
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
  std::optional<int64_t> data_time;
  if (args.count("--forecast")) {
    auto f = ParseForecast(args["--forecast"], &data_time);
    if (!f) return fail(f.error().message);
    in.forecasts = *f;
  } else {
    auto f = ParseReplay(args["--replay"], in, horizon, &data_time);
    if (!f) return fail(f.error().message);
    in.forecasts = *f;
  }
  if (in.now == 0) {
    in.now = data_time ? *data_time
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
