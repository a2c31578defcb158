// C1: ownership requests become actions; endpoints follow pod IPs.
#include <gtest/gtest.h>

#include "tests/controllers/migrationpolicy/reconciler_fixture.h"

namespace shardcast::migrationpolicy {
namespace {

Json Doc() {
  return Json::parse(R"({"schemaVersion":1,"shardSet":"kv","epoch":3,"ranges":[
    {"id":0,"start":0,"end":99,"owner":"kv-0","endpoint":"10.0.0.1:8080","state":"stable","echoes":[]},
    {"id":1,"start":100,"end":199,"owner":"kv-0","endpoint":"10.0.0.1:8080","state":"stable",
     "echoes":[{"pod":"kv-1","endpoint":"10.0.0.9:8080"}]},
    {"id":2,"start":200,"end":4294967295,"owner":"kv-1","endpoint":"10.0.0.2:8080","state":"stable","echoes":[]}]})");
}

TEST(OwnershipRequests, ScaleInBecomesAMoveAndOwnerGoneAReassign) {
  Json set = {{"status",
               {{"ownershipRequests",
                 Json::array({{{"range", 0u}, {"owner", "kv-0"}, {"reason", "ScaleIn"}},
                              {{"range", 2u}, {"owner", "kv-1"}, {"reason", "OwnerGone"}},
                              {{"range", "x"}, {"owner", "kv-1"}, {"reason", "ScaleIn"}}})}}}};
  auto reqs = ParseOwnershipRequests(set);
  ASSERT_EQ(reqs.size(), 2u);  // the malformed entry is skipped
  std::vector<PodInfo> pods = {{"kv-0", "active", true, "10.0.0.1"},
                               {"kv-1", "active", true, "10.0.0.2"},
                               {"kv-2", "active", true, "10.0.0.3"},
                               {"kv-3", "warm", true, "10.0.0.4"}};
  auto acts = ActionsForRequests(reqs, "kv", Doc(), pods, {}, 1000);
  ASSERT_EQ(acts.size(), 2u);
  EXPECT_EQ(acts[0].type, ActionType::kMove);
  EXPECT_EQ(acts[0].source, "kv-0");
  EXPECT_EQ(acts[0].target, "kv-2");  // not a requested owner, not warm
  EXPECT_EQ(acts[0].request, "ScaleIn");
  EXPECT_EQ(acts[1].type, ActionType::kReassign);
  EXPECT_EQ(acts[1].target, "kv-2");
  // Covered by an action in flight (or one just finished): nothing new.
  EXPECT_TRUE(ActionsForRequests(reqs, "kv", Doc(), pods, acts, 1000).empty());
  ActionRecord done = acts[0];
  done.phase = Phase::kFailed;
  done.finished_at = 1000;
  EXPECT_EQ(ActionsForRequests({reqs[0]}, "kv", Doc(), pods, {done}, 1030).size(), 0u);
  EXPECT_EQ(ActionsForRequests({reqs[0]}, "kv", Doc(), pods, {done}, 1100).size(), 1u);
}

TEST(OwnershipRequests, EndpointRefreshRewritesOnlyEndpoints) {
  std::map<std::string, std::string> eps = {{"kv-0", "10.0.0.1:8080"}, {"kv-1", "10.0.0.7:8080"}};
  auto d = RefreshEndpoints(Doc(), eps);
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["epoch"], 4);
  EXPECT_EQ((*d)["ranges"][2]["endpoint"], "10.0.0.7:8080");
  EXPECT_EQ((*d)["ranges"][1]["echoes"][0]["endpoint"], "10.0.0.7:8080");
  EXPECT_EQ((*d)["ranges"][2]["owner"], "kv-1");
  EXPECT_FALSE(RefreshEndpoints(*d, eps));  // nothing differs any more
}

class OwnershipReconcilerTest : public ReconcilerTest {
 protected:
  void Request(uint32_t range, const std::string& owner, const std::string& reason) {
    Json set = *sets_.get("ns/kv");
    set["status"]["ownershipRequests"] =
        Json::array({{{"range", range}, {"owner", owner}, {"reason", reason}}});
    sets_.Upsert(std::make_shared<const Json>(set));
  }
};

TEST_F(OwnershipReconcilerTest, AutoStartsAMoveForAScaleInRequest) {
  Request(2, "kv-1", "ScaleIn");
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), Json::object());
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_GE(st["actions"].size(), 1u) << st.dump();
  EXPECT_EQ(st["actions"][0]["type"], "Move");
  EXPECT_EQ(st["actions"][0]["source"], "kv-1");
  EXPECT_EQ(st["actions"][0]["ownershipRequest"], "ScaleIn");
  EXPECT_NE(st["actions"][0]["phase"], "Pending");  // started this round
}

TEST_F(OwnershipReconcilerTest, ObserveOnlyReportsAndProposalProposes) {
  Request(2, "kv-1", "Shedding");
  SetPolicy(Json::parse(R"({"mode":"Observe"})"), Json::object());
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  Json st = LastStatus();
  EXPECT_TRUE(st["actions"].empty());
  EXPECT_NE(st.dump().find("Observe mode: not acted on"), std::string::npos) << st.dump();
  SetPolicy(Json::parse(R"({"mode":"Proposal"})"), Json::object());
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_TRUE(st["actions"].empty());
  ASSERT_TRUE(st.contains("proposal")) << st.dump();
  EXPECT_EQ(st["proposal"]["actions"][0]["type"], "Move");
  EXPECT_EQ(st["proposal"]["actions"][0]["source"], "kv-1");
}

TEST_F(OwnershipReconcilerTest, OwnerGoneIsReassignedWithAWarning) {
  Request(3, "kv-9", "OwnerGone");
  Json cm = *cms_.get("ns/kv-routing");
  Json doc = Json::parse(cm["data"]["routing.json"].get<std::string>());
  doc["ranges"][3]["owner"] = "kv-9";
  cm["data"]["routing.json"] = doc.dump();
  cms_.Upsert(std::make_shared<const Json>(cm));
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), Json::object());
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_FALSE(st["history"].empty()) << st.dump();
  EXPECT_EQ(st["history"][0]["type"], "Reassign");
  EXPECT_EQ(st["history"][0]["phase"], "Completed");
  auto w = transport_->writes("/configmaps/kv-routing");
  ASSERT_FALSE(w.empty());
  Json out = Json::parse(Json::parse(w.back().body)["data"]["routing.json"].get<std::string>());
  EXPECT_NE(out["ranges"][3]["owner"], "kv-9");
}

}  // namespace
}  // namespace shardcast::migrationpolicy
