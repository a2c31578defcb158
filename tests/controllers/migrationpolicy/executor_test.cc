// The executor inside the reconciler: fencing tokens per term, hook intents
// before calls, the reverse move's hook id and roles, abort progress,
// and windows/blackouts holding for approved actions.
#include <gtest/gtest.h>

#include "tests/controllers/migrationpolicy/reconciler_fixture.h"

namespace shardcast::migrationpolicy {
namespace {

class ExecutorTest : public ReconcilerTest {
 protected:
  static Json WithHook(Json a, const std::string& step, const std::string& state,
                       bool reverse = false) {
    a["hook"] = {{"step", step}, {"state", state}};
    if (reverse) a["hook"]["reverse"] = true;
    return a;
  }
  std::vector<FakeHooks::Call> Posts(const std::string& path) {
    std::vector<FakeHooks::Call> out;
    for (const auto& c : hooks_->Calls()) {
      if (c.method == "POST" && c.path == path) out.push_back(c);
    }
    return out;
  }
};

TEST_F(ExecutorTest, FencingTokenIsAboveEveryRecordedTokenAndStaysForTheTerm) {
  // A new operator (manager token 1, e.g. a re-created Lease) finds the
  // routing ConfigMap written under token 5 by its predecessor.
  SetRouting(5);
  transport_->gets["/api/v1/namespaces/ns/configmaps"] = {
      {"items", Json::array({*cms_.get("ns/kv-routing")})}};
  SetPolicy(Json::parse(R"({"mode":"Auto"})"),
            {{"actions", Json::array({MoveAction("a-0", 0, "Migrating")})}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  auto w = transport_->writes("/configmaps/kv-routing");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(Json::parse(w[0].body)["metadata"]["annotations"][api::kAnnotationFencing], "6");
  EXPECT_EQ(LastStatus()["fencingToken"], 6);
  // Same term: the recorded tokens are not read again.
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_EQ(transport_->by("GET", "/api/v1/namespaces/ns/configmaps").size(), 1u);
  // A new term re-reads them.
  manager_token_ = 2;
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_EQ(transport_->by("GET", "/api/v1/namespaces/ns/configmaps").size(), 2u);
}

TEST_F(ExecutorTest, StatusWrittenUnderALargerTokenIsNeverOverwritten) {
  SetPolicy(Json::parse(R"({"mode":"Auto"})"),
            {{"fencingToken", 9}, {"actions", Json::array({MoveAction("a-0", 0, "Pending")})}});
  auto rec = Make();
  EXPECT_FALSE(rec->Reconcile("ns/p"));  // the list did not show it: our token is 1 < 9
  EXPECT_TRUE(transport_->writes("/migrationpolicies/").empty());
  // Listed (a fresh term reads it), the token goes above it.
  Json p = *policies_.get("ns/p");
  transport_->gets["/apis/shardcast.dev/v1alpha1/namespaces/ns/migrationpolicies"] = {
      {"items", Json::array({p})}};
  manager_token_ = 2;
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_EQ(LastStatus()["fencingToken"], 10);
}

TEST_F(ExecutorTest, CutoverHookIntentIsWrittenBeforeTheCallWhichCarriesTheToken) {
  EnableHooks();
  manager_token_ = 3;
  SetPolicy(
      Json::parse(R"({"mode":"Auto"})"),
      {{"actions", Json::array({WithHook(MoveAction("a-0", 0, "Cutover"), "Copy", "Done")})}});
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_TRUE(hooks_->Calls().empty());  // the intent first, in status
  Json st = LastStatus();
  EXPECT_EQ(st["actions"][0]["hook"], Json({{"step", "Cutover"}, {"state", "Intent"}}));
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  auto calls = Posts("/shardcast/cutover");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].endpoint, "10.0.0.3:8081");  // the target kv-2
  EXPECT_EQ(calls[0].body["fencingToken"], 3);
  EXPECT_EQ(calls[0].body["action"], "a-0");
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());  // one external write per round
  st = LastStatus();
  EXPECT_EQ(st["actions"][0]["hook"]["state"], "Done");
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_EQ(transport_->writes("/configmaps/kv-routing").size(), 1u);
  EXPECT_EQ(Posts("/shardcast/cutover").size(), 1u);
}

TEST_F(ExecutorTest, ReverseMoveCallsTheOldSourceWithSwappedRolesAndRevertId) {
  EnableHooks();
  Json a = WithHook(MoveAction("a-0", 0, "Reverting"), "Prepare", "Intent", true);
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), {{"actions", Json::array({a})}});
  ASSERT_TRUE(Make()->Reconcile("ns/p"));
  auto calls = Posts("/shardcast/prepare");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].endpoint, "10.0.0.1:8081");  // the old source kv-0 receives the range
  EXPECT_EQ(calls[0].body["action"], "a-0-revert");
  EXPECT_EQ(calls[0].body["source"], "kv-2");
  EXPECT_EQ(calls[0].body["target"], "kv-0");
  EXPECT_EQ(LastStatus()["actions"][0]["hook"],
            Json({{"step", "Copy"}, {"state", "Intent"}, {"reverse", true}}));
}

TEST_F(ExecutorTest, AbortWaitsForProgressDoneBeforeClearingTheMarks) {
  EnableHooks();
  SetRouting(1);
  // Range 0 carries our marks (migrating kv-0 -> kv-2).
  MarkRange0Migrating();
  Json a = WithHook(MoveAction("a-0", 0, "Aborting"), "Abort", "Intent");
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), {{"actions", Json::array({a})}});
  hooks_->answers["/shardcast/abort"] = {202, R"({"state":"copying"})"};
  hooks_->answers["/shardcast/progress"] = {200, R"({"state":"copying","progress":0.3})"};
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  EXPECT_EQ(st["actions"][0]["phase"], "Aborting");
  EXPECT_EQ(st["actions"][0]["hook"]["state"], "Intent");
  EXPECT_NE(st["actions"][0]["message"].get<std::string>().find("30%"), std::string::npos);
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());
  hooks_->answers["/shardcast/progress"] = {200, R"({"state":"done","progress":1})"};
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  st = LastStatus();
  EXPECT_EQ(st["actions"][0]["hook"]["state"], "Done");
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  auto w = transport_->writes("/configmaps/kv-routing");
  ASSERT_EQ(w.size(), 1u);
  Json out = Json::parse(Json::parse(w[0].body)["data"]["routing.json"].get<std::string>());
  EXPECT_EQ(out["ranges"][0]["state"], "stable");
  EXPECT_EQ(out["ranges"][0]["owner"], "kv-0");
  EXPECT_EQ(LastStatus()["history"][0]["phase"], "Reverted");
}

TEST_F(ExecutorTest, ApprovedActionDoesNotStartInsideABlackout) {
  Json prop = ProposalOfOneMove();
  // kNow is 04:00 UTC: inside the daily 04:00-05:00 blackout.
  const Json spec =
      Json::parse(R"({"mode":"Proposal","blackouts":[{"schedule":"0 4 * * *","duration":"1h"}]})");
  SetPolicy(spec, {{"proposal", prop}}, "plan-x-1");
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_EQ(st["actions"].size(), 1u) << st.dump();  // approved: the action exists
  // Rounds later it still has not started, and says why.
  for (int i = 0; i < 3; ++i) {
    SetPolicy(spec, st);
    ASSERT_TRUE(rec->Reconcile("ns/p"));
    st = LastStatus();
  }
  EXPECT_EQ(st["actions"][0]["phase"], "Pending");
  EXPECT_NE(st["actions"][0]["message"].get<std::string>().find("inside blackout 0"),
            std::string::npos)
      << st.dump();
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());
  // Without the blackout the same action starts.
  SetPolicy(Json::parse(R"({"mode":"Proposal"})"), st);
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  EXPECT_EQ(LastStatus()["actions"][0]["phase"], "Promoting");
}

TEST_F(ExecutorTest, EchoAddWaitsForTheFilledEchoBeforeRouting) {
  EnableHooks();
  ActionRecord e;
  e.id = "e-0";
  e.shard_set = "kv";
  e.type = ActionType::kAddEcho;
  e.range = 0;
  e.target = "kv-2";
  e.phase = Phase::kCopying;
  e.started_at = e.phase_started_at = kNow - 5;
  e.hook = {HookStep::kEchoAdd, HookState::kIntent};
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), {{"actions", Json::array({ActionToJson(e)})}});
  hooks_->answers["/shardcast/echo-add"] = {202, R"({"state":"copying"})"};
  hooks_->answers["/shardcast/progress"] = {200, R"({"state":"copying","progress":0.5})"};
  auto rec = Make();
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  auto calls = Posts("/shardcast/echo-add");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].body["source"], "kv-0");  // the range's owner
  EXPECT_EQ(calls[0].body["target"], "kv-2");
  EXPECT_TRUE(transport_->writes("/configmaps/").empty());
  hooks_->answers["/shardcast/progress"] = {200, R"({"state":"done","progress":1})"};
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), LastStatus());
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  SetPolicy(Json::parse(R"({"mode":"Auto"})"), LastStatus());
  ASSERT_TRUE(rec->Reconcile("ns/p"));
  auto w = transport_->writes("/configmaps/kv-routing");
  ASSERT_EQ(w.size(), 1u);
  Json out = Json::parse(Json::parse(w[0].body)["data"]["routing.json"].get<std::string>());
  EXPECT_EQ(out["ranges"][0]["echoes"][0]["pod"], "kv-2");
}

}  // namespace
}  // namespace shardcast::migrationpolicy
