// The MigrationPolicy reconciler against in-memory stores, a fake API
// transport and fake hooks (shared by the reconciler tests).
#pragma once

#include <gtest/gtest.h>

#include <mutex>

#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/reconciler.h"
#include "controllers/planner/schedule.h"
#include "tests/support/fake_transport.h"

namespace shardcast::migrationpolicy {

// Hook calls recorded; answers by path prefix (default 200 "{}").
struct FakeHooks : HookClient {
  struct Call {
    std::string method, endpoint, path;
    Json body;
  };
  Result<HookResponse> call(const std::string& method, const std::string& endpoint,
                            const std::string& path, const std::string& body,
                            std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> l(mu);
    calls.push_back({method, endpoint, path, Json::parse(body, nullptr, false)});
    for (const auto& [prefix, answer] : answers) {
      if (path.rfind(prefix, 0) == 0) return answer;
    }
    return HookResponse{200, "{}"};
  }
  std::vector<Call> Calls() {
    std::lock_guard<std::mutex> l(mu);
    return calls;
  }
  std::mutex mu;
  std::vector<Call> calls;
  std::map<std::string, HookResponse> answers;
};

// The shared fake (tests/support); every other GET is an empty list.
struct FakeTransport : shardcast::testing::FakeTransport {
  FakeTransport() { default_get = Json{{"items", Json::array()}}; }
};

constexpr int64_t kNow = 1795320000;

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = std::make_shared<FakeTransport>();
    Json set = Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"ShardSet",
      "metadata":{"name":"kv","namespace":"ns","resourceVersion":"5","labels":{"tier":"kv"}},
      "spec":{"replicas":3,"keySpace":{"ranges":4},"capacity":{"metric":"CPU","cpuMillis":1000},
              "routing":{"configMapName":"kv-routing"}}})");
    sets_.Upsert(std::make_shared<const Json>(set));
    for (int i = 0; i < 3; ++i) {
      Json pod = {{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"metadata",
                   {{"name", "kv-" + std::to_string(i)},
                    {"namespace", "ns"},
                    {"labels", {{api::kLabelShardSet, "kv"}, {api::kLabelRole, "active"}}}}},
                  {"status",
                   {{"phase", "Running"},
                    {"podIP", "10.0.0." + std::to_string(i + 1)},
                    {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
      pods_.Upsert(std::make_shared<const Json>(pod));
    }
    SetRouting(1);
  }

  void SetRouting(uint64_t token) {
    Json doc = {{"schemaVersion", 1}, {"shardSet", "kv"}, {"epoch", 3}, {"hash", "fnv1a64-high32"}};
    Json ranges = Json::array();
    uint64_t step = (uint64_t{1} << 32) / 4;
    for (uint32_t i = 0; i < 4; ++i) {
      ranges.push_back({{"id", i},
                        {"start", i * step},
                        {"end", (i + 1) * step - 1},
                        {"owner", i < 2    ? "kv-0"
                                  : i == 2 ? "kv-1"
                                           : "kv-2"},
                        // The owner's pod IP (the executor refreshes stale endpoints).
                        {"endpoint", i < 2    ? "10.0.0.1:8080"
                                     : i == 2 ? "10.0.0.2:8080"
                                              : "10.0.0.3:8080"},
                        {"state", "stable"},
                        {"source", nullptr},
                        {"target", nullptr},
                        {"shadowFraction", 0},
                        {"echoes", Json::array()}});
    }
    doc["ranges"] = ranges;
    Json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                {{"name", "kv-routing"},
                 {"namespace", "ns"},
                 {"resourceVersion", "77"},
                 {"labels", {{api::kLabelShardSet, "kv"}}},
                 {"annotations", {{api::kAnnotationFencing, std::to_string(token)}}}}},
               {"data", {{"routing.json", doc.dump()}}}};
    cms_.Upsert(std::make_shared<const Json>(cm));
  }

  void SetPolicy(const Json& spec, const Json& status, const std::string& approve = "") {
    Json p = {{"apiVersion", "shardcast.dev/v1alpha1"},
              {"kind", "MigrationPolicy"},
              {"metadata",
               {{"name", "p"},
                {"namespace", "ns"},
                {"resourceVersion", "9"},
                {"creationTimestamp", planner::FormatRfc3339(kNow - 1000)}}},
              {"spec", spec},
              {"status", status}};
    if (!approve.empty()) p["metadata"]["annotations"] = {{api::kAnnotationApprove, approve}};
    policies_.Upsert(std::make_shared<const Json>(p));
  }

  // The reconciler's dependencies over this fixture's caches and fakes.
  ReconcilerDeps Deps(bool may_write = true, std::size_t max_status_actions = 1000) {
    ReconcilerDeps d;
    d.client = std::make_shared<kube::Client>(transport_);
    d.policies = &policies_;
    d.shardsets = &sets_;
    d.pods = &pods_;
    d.configmaps = &cms_;
    d.now = [] { return kNow; };
    d.may_write = [may_write](uint64_t) { return may_write; };
    d.observed_load = [this](const std::string&, const std::string&) {
      ObservedLoad l(observed_);
      l.at = observed_at_;
      return l;
    };
    d.max_status_actions = max_status_actions;
    d.hooks = hooks_;
    d.fencing_token = [this] { return manager_token_; };
    return d;
  }
  std::unique_ptr<MigrationPolicyReconciler> Make(bool may_write = true,
                                                  std::size_t max_status_actions = 1000) {
    return std::make_unique<MigrationPolicyReconciler>(Deps(may_write, max_status_actions));
  }
  // Marks range 0 of the routing document as migrating kv-0 -> kv-2 (the
  // marks an unfinished move leaves).
  void MarkRange0Migrating() {
    Json cm = *cms_.get("ns/kv-routing");
    Json doc = Json::parse(cm["data"]["routing.json"].get<std::string>());
    doc["ranges"][0]["state"] = "migrating";
    doc["ranges"][0]["source"] = "kv-0";
    doc["ranges"][0]["target"] = "kv-2";
    doc["ranges"][0]["targetEndpoint"] = "10.0.0.3:8080";
    cm["data"]["routing.json"] = doc.dump();
    cms_.Upsert(std::make_shared<const Json>(cm));
  }

  Json LastStatus() {
    auto w = transport_->writes("/migrationpolicies/p/status");
    if (w.empty()) return Json();
    return Json::parse(w.back().body)["status"];
  }

  static Json MoveAction(const std::string& id, uint32_t range, const std::string& phase) {
    ActionRecord a;
    a.id = id;
    a.shard_set = "kv";
    a.type = ActionType::kMove;
    a.range = range;
    a.source = "kv-0";
    a.target = "kv-2";
    a.phase = *ParsePhase(phase);
    if (phase != "Pending") a.started_at = a.phase_started_at = kNow - 5;
    return ActionToJson(a);
  }

  // A proposal `plan-x-1` created 10 s ago, expiring in 100 s, of one Move
  // (`plan-x-1-0`: range 1, kv-0 -> kv-2).
  static Json ProposalOfOneMove() {
    return {{"id", "plan-x-1"},
            {"createdAt", planner::FormatRfc3339(kNow - 10)},
            {"expiresAt", planner::FormatRfc3339(kNow + 100)},
            {"actions", Json::array({{{"id", "plan-x-1-0"},
                                      {"shardSet", "kv"},
                                      {"type", "Move"},
                                      {"range", 1u},
                                      {"source", "kv-0"},
                                      {"target", "kv-2"},
                                      {"reason", "hot"}}})}};
  }

  // spec.hooks on the ShardSet (hook port 8081) and, optionally, spec.routers.
  void EnableHooks(bool routers = false) {
    Json set = *sets_.get("ns/kv");
    set["spec"]["hooks"] = {{"port", 8081}};
    if (routers) set["spec"]["routers"] = {{"selector", {{"matchLabels", {{"app", "r"}}}}}};
    sets_.Upsert(std::make_shared<const Json>(set));
  }

  std::shared_ptr<FakeTransport> transport_;
  std::shared_ptr<FakeHooks> hooks_ = std::make_shared<FakeHooks>();
  uint64_t manager_token_ = 1;
  kube::Store policies_, sets_, pods_, cms_;
  std::map<std::string, double> observed_;      // PodMetrics millicores by pod
  std::map<std::string, int64_t> observed_at_;  // their sample times (absent = unknown)
};

}  // namespace shardcast::migrationpolicy
