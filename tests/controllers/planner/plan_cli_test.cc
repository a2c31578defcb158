#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "operator/cmd/plan.h"

namespace shardcast::cli {
namespace {

const std::string kData = SHARDCAST_PLANNER_TESTDATA;

struct CliRun {
  int rc;
  std::string out, err;
};

CliRun Plan(std::vector<std::string> args) {
  args.insert(args.begin(), "shardcast-plan");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = PlanMain(static_cast<int>(argv.size()), argv.data());
  CliRun r{rc, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
  return r;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Write(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/plan_cli_" + name;
  std::ofstream(path) << text;
  return path;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

TEST(PlanCli, PrintsActionsAndUtilizationTable) {
  CliRun r = Plan({"--shardset", kData + "/state.json", "--policy", kData + "/policy.yaml",
                   "--forecast", kData + "/forecast.json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("Move range"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kv-0"), std::string::npos);
  EXPECT_NE(r.out.find("BEFORE"), std::string::npos);
  EXPECT_NE(r.out.find("plan-"), std::string::npos);
}

TEST(PlanCli, JsonOutputRelievesTheHotPod) {
  CliRun r =
      Plan({"plan", "--shardset", kData + "/state.json", "--policy", kData + "/policy.yaml",
            "--forecast", kData + "/forecast.json", "-o", "json", "--now", "2026-11-27T08:00:00Z"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["actions"].empty());
  EXPECT_EQ(j["pods"].size(), 5u);
  for (const auto& p : j["pods"]) {
    if (p["pod"] == "kv-0") {
      EXPECT_GT(p["before"].get<double>(), 0.8);
      EXPECT_LE(p["after"].get<double>(), 0.6 + 1e-9);
    }
  }
  // Same input, same plan id.
  CliRun again =
      Plan({"plan", "--shardset", kData + "/state.json", "--policy", kData + "/policy.yaml",
            "--forecast", kData + "/forecast.json", "-o", "json", "--now", "2026-11-27T08:00:00Z"});
  EXPECT_EQ(nlohmann::json::parse(again.out)["id"], j["id"]);
}

TEST(PlanCli, BlackoutFromThePolicyBlocksEverything) {
  CliRun r =
      Plan({"--shardset", kData + "/state.json", "--policy", kData + "/policy.yaml", "--forecast",
            kData + "/forecast.json", "--now", "2026-12-24T12:00:00Z", "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["actions"].empty());
  EXPECT_FALSE(j["blocked"].empty());
}

TEST(PlanCli, ReplayComputesForecastsFromATrace) {
  CliRun r = Plan({"--shardset", kData + "/state.json", "--policy", kData + "/policy.yaml",
                   "--replay", kData + "/trace.csv", "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  bool moved_off_zero = false;
  for (const auto& a : j["actions"])
    moved_off_zero = moved_off_zero || (a["type"] == "Move" && a["from"] == "kv-0");
  EXPECT_TRUE(moved_off_zero) << r.out;
}

struct BadCase {
  const char* name;
  std::string file;      // which input to corrupt: state, policy, forecast, trace
  std::string from, to;  // textual replacement
  std::string expect;    // substring of the one-line error
};

TEST(PlanCli, BadInputIsAOneLineErrorNamingFileAndField) {
  const std::string state = Slurp(kData + "/state.json");
  const std::string policy = Slurp(kData + "/policy.yaml");
  const std::string forecast = Slurp(kData + "/forecast.json");
  const std::string trace = Slurp(kData + "/trace.csv");
  const std::vector<BadCase> cases = {
      {"state-json", "state", "{", "{{", "invalid JSON"},
      {"capacity", "state", "\"cpuMillis\": 1000", "\"cpuMillis\": \"lots\"",
       "shardSet.spec.capacity.cpuMillis"},
      {"role", "state", "\"role\": \"warm\"", "\"role\": \"cold\"", "pods[4].role"},
      {"owner", "state", "\"owner\": \"kv-0\"", "\"owner\": \"kv-9\"", "ranges[0].owner"},
      {"state", "state", "\"state\": \"stable\"", "\"state\": \"moving\"",
       "routing.ranges[0].state"},
      {"move-seconds", "state", "\"inFlightMigrations\": 0,",
       "\"inFlightMigrations\": 0, \"moveSeconds\": \"slow\",", "history.moveSeconds"},
      {"move-seconds-negative", "state", "\"inFlightMigrations\": 0,",
       "\"inFlightMigrations\": 0, \"moveSeconds\": -5,", "history.moveSeconds"},
      {"range-last-echo", "state", "\"inFlightMigrations\": 0,",
       "\"inFlightMigrations\": 0, \"rangeLastEcho\": {\"r9\": 0},",
       "history.rangeLastEcho.r9: key must be a range id"},
      {"confidence", "policy", "confidence: 0.9", "confidence: high", "spec.forecast.confidence"},
      {"confidence-range", "policy", "confidence: 0.9", "confidence: 0.2",
       "policy.forecast.confidence"},
      {"cooldown", "policy", "cooldown: 5m", "cooldown: 5 minutes", "spec.limits.cooldown"},
      {"cron", "policy", "\"0 0 24 12 *\"", "\"0 0 24 13 *\"", "spec.blackouts[0].schedule"},
      {"yaml", "policy", "spec:", "spec: [", "invalid YAML"},
      {"prob", "forecast", "\"probExceed\": 0.97", "\"probExceed\": 1.5", "probExceed"},
      {"p90", "forecast", "\"p90\":", "\"p90\": \"x\", \"q\":", "p90"},
      {"trace-header", "trace", "time,pod,load", "when,who,what", "header"},
      {"trace-load", "trace", ",kv-0,600", ",kv-0,-600", "line 2 load"},
  };
  for (const auto& c : cases) {
    std::string s = Write("state.json", c.file == "state" ? Replace(state, c.from, c.to) : state);
    std::string p =
        Write("policy.yaml", c.file == "policy" ? Replace(policy, c.from, c.to) : policy);
    std::string f =
        Write("forecast.json", c.file == "forecast" ? Replace(forecast, c.from, c.to) : forecast);
    std::string t = Write("trace.csv", c.file == "trace" ? Replace(trace, c.from, c.to) : trace);
    std::vector<std::string> args = {"--shardset", s, "--policy", p};
    if (c.file == "trace") {
      args.insert(args.end(), {"--replay", t});
    } else {
      args.insert(args.end(), {"--forecast", f});
    }
    CliRun r = Plan(args);
    EXPECT_EQ(r.rc, 2) << c.name << ": " << r.out;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.name << ": " << r.err;
    std::string file = c.file == "state"      ? s
                       : c.file == "policy"   ? p
                       : c.file == "forecast" ? f
                                              : t;
    EXPECT_NE(r.err.find(file), std::string::npos)
        << c.name << ": error should name the file: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.name << ": " << r.err;
  }
}

TEST(PlanCli, WrongShapesAreErrorsNotCrashes) {
  struct Shape {
    bool policy;  // else state
    std::string text, expect;
  };
  const std::vector<Shape> shapes = {
      {false, "[]", "(top level)"},
      {false, "{\"shardSet\": 5}", "shardSet: must be an object"},
      {false,
       "{\"shardSet\": {\"name\": \"kv\", \"spec\": 3}, \"pods\": [], \"routing\": {\"ranges\": "
       "[]}}",
       "shardSet.spec"},
      {false, "{\"shardSet\": {\"name\": \"kv\"}, \"pods\": [3], \"routing\": {\"ranges\": []}}",
       "pods[0]"},
      {false,
       "{\"shardSet\": {\"name\": \"kv\", \"spec\": {\"capacity\": {\"metric\": "
       "\"RequestsPerSecond\"}}}, "
       "\"pods\": [{\"name\": \"a\"}], \"routing\": {\"ranges\": []}}",
       "shardSet.spec.capacity.requestsPerSecond"},
      {false,
       "{\"shardSet\": {\"name\": \"kv\"}, \"pods\": [], \"routing\": {\"ranges\": [{\"id\": "
       "-1}]}}",
       "routing.ranges[0]"},
      {true, "spec: 3", "spec: must be a map"},
      {true, "spec: {forecast: 5}", "spec.forecast: must be a map"},
      {true, "spec: {migration: {leadTime: 3}}", "spec.migration.leadTime"},
      {true, "spec: {windows: [{schedule: \"* * * * *\"}]}", "spec.windows[0].duration"},
  };
  for (const auto& sh : shapes) {
    std::string s = sh.policy ? kData + "/state.json" : Write("shape.json", sh.text);
    std::string p = sh.policy ? Write("shape.yaml", sh.text) : kData + "/policy.yaml";
    CliRun r = Plan({"--shardset", s, "--policy", p, "--forecast", kData + "/forecast.json"});
    EXPECT_EQ(r.rc, 2) << sh.text;
    EXPECT_NE(r.err.find(sh.expect), std::string::npos) << sh.text << " -> " << r.err;
  }
}

TEST(PlanCli, FlagErrors) {
  EXPECT_EQ(Plan({"--policy", kData + "/policy.yaml"}).rc, 2);
  EXPECT_EQ(Plan({"--shardset", kData + "/state.json", "--policy", kData + "/policy.yaml"}).rc, 2);
  CliRun unknown = Plan({"--shardset", kData + "/state.json", "--bogus", "1"});
  EXPECT_EQ(unknown.rc, 2);
  EXPECT_NE(unknown.err.find("--bogus"), std::string::npos);
  CliRun missing = Plan({"--shardset", "/nonexistent/state.json", "--policy",
                         kData + "/policy.yaml", "--forecast", kData + "/forecast.json"});
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("/nonexistent/state.json: cannot open"), std::string::npos);
  CliRun now = Plan({"--shardset", kData + "/state.json", "--policy", kData + "/policy.yaml",
                     "--forecast", kData + "/forecast.json", "--now", "yesterday"});
  EXPECT_EQ(now.rc, 2);
  EXPECT_NE(now.err.find("--now"), std::string::npos);
  EXPECT_EQ(Plan({"--help"}).rc, 0);
}

}  // namespace
}  // namespace shardcast::cli
