// Declared events short of maxReplicas (condition CapacityShort, one Warning
// per event occurrence) and refused flaps (status.flapsRefused, FlapRefused
// Events rate-limited per ShardSet per cooldown): the pure parts and the
// reconciler writing them.
#include "controllers/migrationpolicy/notices.h"

#include <gtest/gtest.h>

#include "tests/controllers/migrationpolicy/reconciler_fixture.h"
#include "tests/support/recording_sink.h"

namespace shardcast::migrationpolicy {
namespace {

PlanFindings Short(const std::string& set, const std::string& event, int64_t start) {
  PlanFindings f;
  f.shard_set = set;
  f.shortfalls.push_back({event, start, 6000, 8, 6});
  return f;
}

TEST(CapacityShort, ConditionNamesEventSetPodsAndMax) {
  Condition c = CapacityShortCondition({Short("kv", "sale", kNow)}, true, Json::array());
  EXPECT_EQ(c.type, "CapacityShort");
  EXPECT_EQ(c.status, "True");
  EXPECT_EQ(c.reason, "MaxReplicasTooLow");
  for (const char* s : {"sale", "kv", "needs 8 active pods", "maxReplicas is 6"})
    EXPECT_NE(c.message.find(s), std::string::npos) << s << " in " << c.message;
  Condition ok = CapacityShortCondition({PlanFindings{}}, true, Json::array());
  EXPECT_EQ(ok.status, "False");
  // Not evaluated this round: the previous condition stands.
  Json prev = Json::array({{{"type", "CapacityShort"},
                            {"status", "True"},
                            {"reason", "MaxReplicasTooLow"},
                            {"message", "m"}}});
  Condition kept = CapacityShortCondition({}, false, prev);
  EXPECT_EQ(kept.status, "True");
  EXPECT_EQ(kept.message, "m");
}

TEST(NoticeLedger, WarnsOncePerEventOccurrence) {
  NoticeLedger l;
  auto a = l.Observe("ns/p", {Short("kv", "sale", kNow + 3600)}, 300, kNow);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_TRUE(a.events[0].warning);
  EXPECT_EQ(a.events[0].reason, "MaxReplicasTooLow");
  EXPECT_TRUE(l.Observe("ns/p", {Short("kv", "sale", kNow + 3600)}, 300, kNow + 10).events.empty());
  // Another occurrence (moved start), another ShardSet, another policy: each warned.
  EXPECT_EQ(l.Observe("ns/p", {Short("kv", "sale", kNow + 7200)}, 300, kNow + 20).events.size(),
            1u);
  EXPECT_EQ(l.Observe("ns/p", {Short("kv2", "sale", kNow + 3600)}, 300, kNow + 20).events.size(),
            1u);
  EXPECT_EQ(l.Observe("ns/q", {Short("kv", "sale", kNow + 3600)}, 300, kNow + 20).events.size(),
            1u);
}

PlanFindings Flaps(const std::vector<std::pair<std::string, int64_t>>& pods) {
  PlanFindings f;
  f.shard_set = "kv";
  for (const auto& [pod, at] : pods) {
    f.flap_pods.push_back(pod);
    f.pod_last_action[pod] = at;
  }
  return f;
}

TEST(NoticeLedger, CountsEachRefusalOnceAndRateLimitsItsEvent) {
  NoticeLedger l;
  auto a = l.Observe("ns/p", {Flaps({{"kv-2", kNow - 60}})}, 300, kNow);
  EXPECT_EQ(a.new_flaps, 1);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_FALSE(a.events[0].warning);
  EXPECT_EQ(a.events[0].reason, "FlapRefused");
  EXPECT_NE(a.events[0].message.find("kv-2"), std::string::npos);
  // The same refusal in the next rounds: not counted again, no Event.
  auto b = l.Observe("ns/p", {Flaps({{"kv-2", kNow - 60}})}, 300, kNow + 5);
  EXPECT_EQ(b.new_flaps, 0);
  EXPECT_TRUE(b.events.empty());
  // A new refusal within the cooldown of the last Event: counted, no Event.
  auto c = l.Observe("ns/p", {Flaps({{"kv-3", kNow - 10}})}, 300, kNow + 100);
  EXPECT_EQ(c.new_flaps, 1);
  EXPECT_TRUE(c.events.empty());
  // After the cooldown: counted and reported.
  auto d = l.Observe("ns/p", {Flaps({{"kv-2", kNow + 200}})}, 300, kNow + 301);
  EXPECT_EQ(d.new_flaps, 1);
  EXPECT_EQ(d.events.size(), 1u);
}

TEST(FlapsRefused, ReadsStatus) {
  EXPECT_EQ(FlapsRefusedOf(Json{{"flapsRefused", 4}}), 4);
  EXPECT_EQ(FlapsRefusedOf(Json{{"flapsRefused", "x"}}), 0);
  EXPECT_EQ(FlapsRefusedOf(Json::object()), 0);
}

class NoticesReconcilerTest : public ReconcilerTest {
 protected:
  std::unique_ptr<MigrationPolicyReconciler> MakeWithSink() {
    ReconcilerDeps d = Deps();
    d.events = &sink_;
    return std::make_unique<MigrationPolicyReconciler>(d);
  }
  void SetMaxReplicas(int n) {
    Json set = *sets_.get("ns/kv");
    set["spec"]["maxReplicas"] = n;
    sets_.Upsert(std::make_shared<const Json>(set));
  }
  static Json EventSpec(double multiplier) {
    return {{"events", Json::array({{{"name", "sale"},
                                     {"start", planner::FormatRfc3339(kNow + 3 * 3600)},
                                     {"duration", "1h"},
                                     {"multiplier", multiplier}}})}};
  }
  static Json Cond(const Json& status, const std::string& type) {
    for (const auto& c : status.value("conditions", Json::array()))
      if (c.value("type", std::string()) == type) return c;
    return Json();
  }
  int Count(const std::string& reason) {
    int n = 0;
    for (const auto& e : sink_.events) n += e.reason == reason;
    return n;
  }
  shardcast::testing::RecordingSink sink_;
};

// 3 pods at 50% observed: 1500m; a declared x3 event needs 4500m, 6 pods at
// maxUtilization 80%; maxReplicas 4 is too low.
TEST_F(NoticesReconcilerTest, CapacityShortConditionAndOneWarning) {
  observed_ = {{"kv-0", 500}, {"kv-1", 500}, {"kv-2", 500}};
  SetMaxReplicas(4);
  SetPolicy(EventSpec(3), Json::object());
  auto r = MakeWithSink();
  ASSERT_TRUE(r->Reconcile("ns/p"));
  Json c = Cond(LastStatus(), "CapacityShort");
  ASSERT_FALSE(c.is_null()) << LastStatus().dump();
  EXPECT_EQ(c["status"], "True");
  EXPECT_EQ(c["reason"], "MaxReplicasTooLow");
  for (const char* s : {"event sale", "ShardSet kv", "needs 6 active pods", "maxReplicas is 4"})
    EXPECT_NE(c["message"].get<std::string>().find(s), std::string::npos) << s;
  EXPECT_EQ(Count("MaxReplicasTooLow"), 1);
  // The next round: still short, no second Warning.
  SetPolicy(EventSpec(3), LastStatus());
  ASSERT_TRUE(r->Reconcile("ns/p"));
  EXPECT_EQ(Count("MaxReplicasTooLow"), 1);
  EXPECT_EQ(Cond(LastStatus(), "CapacityShort")["status"], "True");
  // maxReplicas raised to 6: the condition clears.
  SetMaxReplicas(6);
  SetPolicy(EventSpec(3), LastStatus());
  ASSERT_TRUE(r->Reconcile("ns/p"));
  EXPECT_EQ(Cond(LastStatus(), "CapacityShort")["status"], "False");
  EXPECT_EQ(Count("MaxReplicasTooLow"), 1);
}

// All three pods were acted on (promoted) a minute ago, load is low for long
// enough to scale in: the scale-in is refused as a flap, counted once in
// status.flapsRefused however many rounds repeat it, with one FlapRefused Event.
TEST_F(NoticesReconcilerTest, FlapRefusedIsCountedOnceAndReported) {
  observed_ = {{"kv-0", 50}, {"kv-1", 60}, {"kv-2", 70}};
  Json history = Json::array();
  for (int i = 0; i < 3; ++i) {
    ActionRecord a;
    a.id = "old-" + std::to_string(i);
    a.shard_set = "kv";
    a.type = ActionType::kPromote;
    a.target = "kv-" + std::to_string(i);
    a.phase = *ParsePhase("Completed");
    a.started_at = a.finished_at = kNow - 60;
    history.push_back(ActionToJson(a));
  }
  Json spec = {{"limits", {{"scaleInStabilization", "0s"}}}};
  SetPolicy(spec, {{"history", history}});
  auto r = MakeWithSink();
  ASSERT_TRUE(r->Reconcile("ns/p"));
  Json st = LastStatus();
  ASSERT_TRUE(st.contains("flapsRefused")) << st.dump();
  EXPECT_EQ(st["flapsRefused"], 1);
  EXPECT_EQ(Count("FlapRefused"), 1);
  SetPolicy(spec, st);
  ASSERT_TRUE(r->Reconcile("ns/p"));
  EXPECT_EQ(LastStatus()["flapsRefused"], 1);
  EXPECT_EQ(Count("FlapRefused"), 1);
}

}  // namespace
}  // namespace shardcast::migrationpolicy
