// The reconciler against in-memory stores and a fake HTTP transport: which
// writes one round makes (fencing, executor limits, approval, may_write).
#include "controllers/migrationpolicy/reconciler.h"

#include <gtest/gtest.h>

#include <mutex>

#include "controllers/api/resources.h"
#include "controllers/planner/schedule.h"
#include "tests/controllers/migrationpolicy/reconciler_fixture.h"
#include "tests/support/fake_transport.h"

namespace shardcast::migrationpolicy {
namespace {

TEST_F(ReconcilerTest, APlanThatWouldOverfillStatusActionsWaits) {
  // kv-0 runs at 95% of its 1000m with two ranges; the others are cool.
  observed_ = {{"kv-0", 950}, {"kv-1", 100}, {"kv-2", 100}};
  SetPolicy(Json::parse(R"({"mode":"Observe"})"), Json::object());
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_TRUE(st.contains("proposal")) << st.dump();
  const std::size_t n = st["proposal"]["actions"].size();
  ASSERT_GE(n, 1u) << st.dump();

  // The same plan under a cap one below its size is left for later, and says why.
  SetPolicy(Json::parse(R"({"mode":"Observe"})"), Json::object());
  ASSERT_TRUE(Make(true, n - 1)->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_FALSE(st.contains("proposal") && st["proposal"].is_object()) << st.dump();
  EXPECT_NE(st.dump().find("is left for a later round"), std::string::npos) << st.dump();
}

TEST_F(ReconcilerTest, ExecutorStartsNoMoreMovesThanAllowed) {
  // a-0 is in flight (Verifying, range 3 already on kv-2, window not over);
  // a-1 waits for a free slot.
  Json actions = Json::array({MoveAction("a-0", 3, "Verifying"), MoveAction("a-1", 0, "Pending")});
  SetPolicy(Json::parse(R"({"mode":"Auto","limits":{"maxConcurrentMigrations":1}})"),
            {{"actions", actions}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_EQ(st["actions"].size(), 2u) << st.dump();
  EXPECT_EQ(st["actions"][0]["phase"], "Verifying");
  EXPECT_EQ(st["actions"][1]["phase"], "Pending");
  EXPECT_NE(st["actions"][1].value("message", "").find("maxConcurrentMigrations=1"),
            std::string::npos)
      << st.dump();
  // With two slots the same round starts it.
  SetPolicy(Json::parse(R"({"mode":"Auto","limits":{"maxConcurrentMigrations":2}})"),
            {{"actions", actions}});
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_EQ(st["actions"][1]["phase"], "Promoting");
  // maxMovesPerHour counts finished moves too.
  Json hist = Json::array({MoveAction("h-0", 2, "Completed")});
  SetPolicy(
      Json::parse(R"({"mode":"Auto","limits":{"maxConcurrentMigrations":2,"maxMovesPerHour":2}})"),
      {{"actions", actions}, {"history", hist}});
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_EQ(st["actions"][1]["phase"], "Pending");
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());
}

TEST_F(ReconcilerTest, RoutingWriteCarriesPreconditionAndToken) {
  SetPolicy(Json::parse(R"({"mode":"Auto"})"),
            {{"actions", Json::array({MoveAction("a-0", 0, "Migrating")})}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  auto w = transport_->writes("/configmaps/kv-routing");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].method, "PUT");
  Json cm = Json::parse(w[0].body);
  EXPECT_EQ(cm["metadata"]["resourceVersion"], "77");
  EXPECT_EQ(cm["metadata"]["annotations"][api::kAnnotationFencing], "1");
  Json doc = Json::parse(cm["data"]["routing.json"].get<std::string>());
  EXPECT_EQ(doc["epoch"], 4);
  EXPECT_EQ(doc["ranges"][0]["state"], "migrating");
  EXPECT_EQ(doc["ranges"][0]["target"], "kv-2");
  EXPECT_EQ(doc["ranges"][0]["targetEndpoint"], "10.0.0.3:8080");
}

TEST_F(ReconcilerTest, RoutingWriteEpochIsRecordedInTheAction) {
  SetPolicy(Json::parse(R"({"mode":"Auto"})"),
            {{"actions", Json::array({MoveAction("a-0", 0, "Migrating")})}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  EXPECT_EQ(st["actions"][0]["routingEpoch"], 4) << st.dump();
}

TEST_F(ReconcilerTest, StaleRoutingCacheDoesNotRevertAFinishedCutover) {
  // The cutover wrote epoch 4 (range 0 on kv-2); the cache still shows epoch
  // 3, where range 0 is on its source kv-0. Judging that document would call
  // the move "Reverted"; the action waits for its own write instead.
  Json a = MoveAction("a-0", 0, "Verifying");
  a["routingEpoch"] = 4;
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), {{"actions", Json::array({a})}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_EQ(st["actions"].size(), 1u) << st.dump();
  EXPECT_EQ(st["actions"][0]["phase"], "Verifying");
  EXPECT_NE(st["actions"][0]["message"].get<std::string>().find("epoch 4"), std::string::npos)
      << st.dump();
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());
  // Without the recorded epoch the same document reads as a revert.
  a.erase("routingEpoch");
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), {{"actions", Json::array({a})}});
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  st = LastStatus();
  ASSERT_FALSE(st["history"].empty()) << st.dump();
  EXPECT_EQ(st["history"][0]["phase"], "Reverted");
}

TEST_F(ReconcilerTest, PromotionIsARequestInPolicyStatusNeverASpecWrite) {
  Json warm = {{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"metadata",
                {{"name", "kv-3"},
                 {"namespace", "ns"},
                 {"labels", {{api::kLabelShardSet, "kv"}, {api::kLabelRole, "warm"}}}}},
               {"status",
                {{"phase", "Running"},
                 {"podIP", "10.0.0.4"},
                 {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  pods_.Upsert(std::make_shared<const Json>(warm));
  ActionRecord a;
  a.id = "p-0";
  a.shard_set = "kv";
  a.type = ActionType::kPromote;
  a.target = "kv-3";
  a.phase = Phase::kPromoting;
  a.started_at = a.phase_started_at = kNow - 1;
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), {{"actions", Json::array({ActionToJson(a)})}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  for (const auto& w : transport_->writes("/shardsets/"))
    ADD_FAILURE() << "wrote " << w.path_and_query;
  Json st = LastStatus();
  ASSERT_TRUE(st.contains("replicaRequests")) << st.dump();
  ASSERT_EQ(st["replicaRequests"].size(), 1u);
  EXPECT_EQ(st["replicaRequests"][0]["shardSet"], "kv");
  EXPECT_EQ(st["replicaRequests"][0]["replicas"], 4);
  EXPECT_EQ(st["replicaRequests"][0]["action"], "p-0");
  EXPECT_EQ(st["actions"][0]["phase"], "Promoting");
  // The next round reads its own request back: no second request, it waits.
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_EQ(st["replicaRequests"][0]["replicas"], 4);
  EXPECT_NE(
      st["actions"][0]["message"].get<std::string>().find("waiting for the ShardSet controller"),
      std::string::npos)
      << st.dump();
  // A set the policy no longer governs loses the request.
  Json unlabeled = *sets_.get("ns/kv");
  unlabeled["metadata"]["labels"] = Json::object();
  sets_.Upsert(std::make_shared<const Json>(unlabeled));
  SetPolicy(Json::parse(R"({"mode":"Auto","shardSetSelector":{"matchLabels":{"tier":"kv"}}})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_FALSE(LastStatus().contains("replicaRequests")) << LastStatus().dump();
}

// kv-0 is observed at 88% of capacity (maxUtilization 80%) while its trusted,
// narrow forecast expects no crossing: the one sample is not acted on, nor is
// the same sample read again; the next sample over confirms it.
TEST_F(ReconcilerTest, AnOverloadTheForecastDoesNotExpectIsActedOnAtItsSecondSample) {
  Json set = *sets_.get("ns/kv");
  set["status"]["forecasts"] = Json::array();
  for (int i = 0; i < 3; ++i) {
    const double peak = i == 0 ? 500 : 100;
    set["status"]["forecasts"].push_back({{"pod", "kv-" + std::to_string(i)},
                                          {"horizonSeconds", 1800},
                                          {"peak", peak},
                                          {"p90", peak + 20},
                                          {"p99", peak + 40},
                                          {"probExceed", 0.05},
                                          {"trusted", true}});
  }
  sets_.Upsert(std::make_shared<const Json>(set));
  observed_ = {{"kv-0", 880}, {"kv-1", 100}, {"kv-2", 100}};
  for (const auto& [pod, v] : observed_) observed_at_[pod] = kNow - 30;
  const Json spec = Json::parse(R"({"mode":"Auto"})");
  SetPolicy(spec, Json::object());
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_TRUE(LastStatus().value("actions", Json::array()).empty()) << LastStatus().dump();
  SetPolicy(spec, LastStatus());
  ASSERT_TRUE(rec->Reconcile("ns/p"));  // the same sample again
  EXPECT_TRUE(LastStatus().value("actions", Json::array()).empty()) << LastStatus().dump();
  observed_at_["kv-0"] = kNow - 10;  // a newer sample, still over
  SetPolicy(spec, LastStatus());
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json acts = LastStatus().value("actions", Json::array());
  ASSERT_FALSE(acts.empty()) << LastStatus().dump();
  EXPECT_EQ(acts[0]["source"], "kv-0");
}

TEST_F(ReconcilerTest, LargerFencingTokenOnTheConfigMapIsRefused) {
  SetRouting(5);
  SetPolicy(Json::parse(R"({"mode":"Auto"})"),
            {{"actions", Json::array({MoveAction("a-0", 0, "Migrating")})}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());
  Json st = LastStatus();
  EXPECT_EQ(st["actions"][0]["attempts"], 1);
  EXPECT_NE(st["actions"][0]["message"].get<std::string>().find("fencing token 5"),
            std::string::npos)
      << st.dump();
  EXPECT_EQ(st["actions"][0]["retryAt"], planner::FormatRfc3339(kNow + 1)) << st.dump();
  // Our own status write re-queues the policy at once; the backoff still
  // holds because it is in status: no second attempt before retryAt.
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_EQ(LastStatus()["actions"][0]["attempts"], 1) << LastStatus().dump();
}

TEST_F(ReconcilerTest, NothingIsWrittenWhenTheTokenMayNotWrite) {
  SetPolicy(Json::parse(R"({"mode":"Auto"})"),
            {{"actions", Json::array({MoveAction("a-0", 0, "Migrating")})}});
  auto rec = Make(/*may_write=*/false);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  for (const auto& r : transport_->requests) EXPECT_EQ(r.method, "GET") << r.path_and_query;
}

TEST_F(ReconcilerTest, ApprovalOfTheCurrentProposalStartsIt) {
  Json prop = ProposalOfOneMove();
  SetPolicy(Json::parse(R"({"mode":"Proposal"})"), {{"proposal", prop}}, "plan-x-0");
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  EXPECT_EQ(st["proposal"]["id"], "plan-x-1");  // wrong id: still pending
  EXPECT_TRUE(st["actions"].empty());
  SetPolicy(Json::parse(R"({"mode":"Proposal"})"), st, "plan-x-1");
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_FALSE(st.contains("proposal"));
  ASSERT_EQ(st["actions"].size(), 1u);
  EXPECT_EQ(st["actions"][0]["id"], "plan-x-1-0");
  EXPECT_EQ(st["actions"][0]["phase"], "Pending");
  // Observe mode never executes, whatever the annotation says.
  SetPolicy(Json::parse(R"({"mode":"Observe"})"), {{"proposal", prop}}, "plan-x-1");
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_TRUE(st["actions"].empty());
  EXPECT_EQ(st["proposal"]["id"], "plan-x-1");
}

TEST_F(ReconcilerTest, InvalidSpecIsAConditionNamingTheField) {
  SetPolicy(Json::parse(R"({"mode":"Auto","limits":{"cooldown":"soon"}})"), Json::object());
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_TRUE(st.contains("conditions")) << st.dump();
  EXPECT_EQ(st["conditions"][0]["reason"], "InvalidSpec");
  EXPECT_NE(st["conditions"][0]["message"].get<std::string>().find("spec.limits.cooldown"),
            std::string::npos);
}

}  // namespace
}  // namespace shardcast::migrationpolicy
