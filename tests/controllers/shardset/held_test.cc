// Issue 12, scale-in victim: a pod that an unfinished MigrationPolicy action
// names is not deleted (with its claims) until that action is terminal, so a
// move off it whose verification fails can still revert to it.
#include <gtest/gtest.h>

#include "controllers/api/resources.h"
#include "controllers/shardset/shardset.h"
#include "reconciler_fixture.h"
#include "testutil.h"

namespace shardcast::shardset {
namespace {

using testing::Pod;
using testing::Spec;

Json PolicyWith(const Json& actions, const std::string& name = "p") {
  return {{"apiVersion", "shardcast.dev/v1alpha1"},
          {"kind", "MigrationPolicy"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"status", {{"selectedShardSets", Json::array({"kv"})}, {"actions", actions}}}};
}

Json MoveOff(const std::string& id, const std::string& source, const std::string& phase,
             const std::string& set = "kv") {
  return {{"id", id},         {"shardSet", set},  {"type", "Move"}, {"range", 3},
          {"source", source}, {"target", "kv-0"}, {"phase", phase}};
}

// kv-2 is the victim of a scale-in to 2 and the document no longer names it.
Observation VictimDrained(const ShardSetSpec& s) {
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active")};
  std::map<uint32_t, std::string> a;
  for (int i = 0; i < s.ranges; ++i) a[static_cast<uint32_t>(i)] = i % 2 ? "kv-1" : "kv-0";
  std::map<std::string, std::string> ips;
  for (const auto& p : obs.pods) ips[p.name] = p.ip;
  auto doc = ParseRoutingDocument(BuildRoutingDocument(s, a, ips, 5, nullptr).dump());
  EXPECT_TRUE(doc.ok());
  obs.routing = doc.value();
  return obs;
}

TEST(HeldPods, UnfinishedActionsOfTheSetHoldTheirSourceAndTarget) {
  std::map<std::string, std::string> held;
  AddHeldPods(PolicyWith(Json::array({MoveOff("a1", "kv-2", "Verifying"),
                                      MoveOff("a2", "kv-5", "Completed"),
                                      MoveOff("a3", "kv-6", "Reverting", "other"),
                                      Json("not an object"),
                                      {{"shardSet", "kv"}, {"source", 7}, {"phase", "Pending"}}})),
              "kv", held);
  EXPECT_EQ(held.size(), 2u);
  EXPECT_EQ(held["kv-2"], "a1 (MigrationPolicy p)");
  EXPECT_EQ(held["kv-0"], "a1 (MigrationPolicy p)");
  // No status, no actions, wrong shapes: nothing held, no crash.
  held.clear();
  AddHeldPods(Json::object(), "kv", held);
  AddHeldPods(Json{{"status", {{"actions", "x"}}}}, "kv", held);
  AddHeldPods(Json("x"), "kv", held);
  EXPECT_TRUE(held.empty());
}

TEST(HeldPods, AScaleInActionDoesNotHoldThePodItDrains) {
  // The ScaleIn waits in Verifying for its victim's deletion; a Move off the
  // same pod still holds it.
  Json scale_in = {{"id", "s1"},
                   {"shardSet", "kv"},
                   {"type", "ScaleIn"},
                   {"source", "kv-2"},
                   {"phase", "Verifying"}};
  std::map<std::string, std::string> held;
  AddHeldPods(PolicyWith(Json::array({scale_in})), "kv", held);
  EXPECT_TRUE(held.empty());
  AddHeldPods(PolicyWith(Json::array({scale_in, MoveOff("m1", "kv-2", "Verifying")})), "kv", held);
  EXPECT_EQ(held["kv-2"], "m1 (MigrationPolicy p)");
}

TEST(HeldPods, PromotionsAreTheTargetsOfUnfinishedPromoteActionsInOrder) {
  auto promote = [](const std::string& id, const Json& target, const std::string& phase,
                    const std::string& set = "kv") {
    return Json{
        {"id", id}, {"shardSet", set}, {"type", "Promote"}, {"target", target}, {"phase", phase}};
  };
  std::vector<std::string> pods;
  AddPromotions(PolicyWith(Json::array(
                    {promote("a1", "kv-5", "Promoting"), promote("a2", "kv-3", "Completed"),
                     promote("a3", "kv-6", "Pending", "other"), MoveOff("a4", "kv-2", "Verifying"),
                     promote("a5", 7, "Pending"), Json("x"), promote("a6", "kv-4", "Pending"),
                     promote("a7", "kv-5", "Pending")})),
                "kv", pods);
  EXPECT_EQ(pods, (std::vector<std::string>{"kv-5", "kv-4"}));
  pods.clear();
  AddPromotions(Json::object(), "kv", pods);
  AddPromotions(Json{{"status", {{"actions", "x"}}}}, "kv", pods);
  AddPromotions(Json("x"), "kv", pods);
  EXPECT_TRUE(pods.empty());
}

TEST(HeldPods, ScaleInsAreTheSourcesOfUnfinishedScaleInAndDemoteActions) {
  auto act = [](const std::string& id, const std::string& type, const std::string& source,
                const std::string& phase) {
    return Json{
        {"id", id}, {"shardSet", "kv"}, {"type", type}, {"source", source}, {"phase", phase}};
  };
  std::vector<std::string> pods;
  AddScaleIns(
      PolicyWith(Json::array(
          {act("a1", "ScaleIn", "kv-3", "Verifying"), act("a2", "Demote", "kv-2", "Pending"),
           act("a3", "ScaleIn", "kv-1", "Completed"), MoveOff("a4", "kv-0", "Verifying")})),
      "kv", pods);
  EXPECT_EQ(pods, (std::vector<std::string>{"kv-3", "kv-2"}));
}

TEST(HeldPods, DrainedVictimStaysWhileAMoveOffItIsUnfinished) {
  ShardSetSpec s = Spec(2, 0, 4);
  Observation obs = VictimDrained(s);
  obs.held = {{"kv-2", "a1 (MigrationPolicy p)"}};
  Desired d = ComputeDesired(s, obs);
  EXPECT_EQ(d.victims, std::vector<std::string>{"kv-2"});
  EXPECT_TRUE(d.remove.empty());
  EXPECT_NE(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(d.held.at("kv-2"), "a1 (MigrationPolicy p)");
  EXPECT_TRUE(d.waiting);
  EXPECT_NE(d.summary.find("keeping pod kv-2 until action a1"), std::string::npos) << d.summary;
  // The action is terminal (it left status.actions): the victim goes.
  obs.held.clear();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  ASSERT_EQ(d.remove.size(), 1u);
  EXPECT_EQ(d.remove[0].name, "kv-2");
  EXPECT_EQ(d.remove[0].reason, kDeleteScaleIn);
}

TEST(HeldPods, ExcessWarmPodNamedByAnActionStays) {
  ShardSetSpec s = Spec(1, 0, 4);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "warm")};
  auto doc = ParseRoutingDocument(
      BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-0"}, {2, "kv-0"}, {3, "kv-0"}},
                           {{"kv-0", "10.0.0.1"}}, 2, nullptr)
          .dump());
  ASSERT_TRUE(doc.ok());
  obs.routing = doc.value();
  obs.held = {{"kv-1", "promote-1"}};
  Desired d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.remove.empty());
  obs.held.clear();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.remove.size(), 1u);
  EXPECT_EQ(d.remove[0].reason, kDeleteExcessWarm);
}

class HeldReconcilerTest : public testing::ReconcilerTest {
 protected:
  void Drained() {
    PutSet(testing::SetObject(2, 0, 4));
    for (long i = 0; i < 3; ++i) PutPod(i, "active");
    ShardSetSpec s = testing::Spec(2, 0, 4);
    Json doc = BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-1"}, {2, "kv-0"}, {3, "kv-1"}},
                                    {{"kv-0", "10.0.0.1"}, {"kv-1", "10.0.0.2"}}, 3, nullptr);
    PutConfigMap("kv-routing", doc.dump());
    transport->gets["/api/v1/namespaces/ns/configmaps/kv-routing"] = *cms.get("ns/kv-routing");
  }
  size_t PodDeletes() { return transport->by("DELETE", "/pods/").size(); }
};

TEST_F(HeldReconcilerTest, CachedUnfinishedActionKeepsTheVictim) {
  Drained();
  policies.Upsert(
      std::make_shared<const Json>(PolicyWith(Json::array({MoveOff("a1", "kv-2", "Verifying")}))));
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(PodDeletes(), 0u);
  Json st = LastWrite("PUT", "/status");
  const Json* progressing = StatusCondition(st, "Progressing");
  ASSERT_NE(progressing, nullptr);
  EXPECT_NE((*progressing)["message"].get<std::string>().find("keeping pod kv-2 until action a1"),
            std::string::npos)
      << (*progressing)["message"];
}

// The policy cache is behind: the live read right before the deletion
// still finds the action in flight.
TEST_F(HeldReconcilerTest, LiveReadBeforeTheDeletionKeepsTheVictim) {
  Drained();
  transport->gets["/apis/shardcast.dev/v1alpha1/namespaces/ns/migrationpolicies"] =
      Json{{"items", Json::array({PolicyWith(Json::array({MoveOff("a1", "kv-2", "Reverting")}))})}};
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(PodDeletes(), 0u);
  EXPECT_TRUE(transport->by("DELETE", "persistentvolumeclaims").empty());
  // Once the action is terminal (gone from status.actions) the victim goes.
  transport->gets["/apis/shardcast.dev/v1alpha1/namespaces/ns/migrationpolicies"] =
      Json{{"items", Json::array({PolicyWith(Json::array())})}};
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  ASSERT_EQ(PodDeletes(), 1u);
  EXPECT_NE(transport->by("DELETE", "/pods/")[0].path_and_query.find("/pods/kv-2"),
            std::string::npos);
}

}  // namespace
}  // namespace shardcast::shardset
