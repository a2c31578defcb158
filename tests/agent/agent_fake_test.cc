// The agent's hook path (validation, fencing, idempotency, prepare's marker
// order) against the fake Redis in tests/support: no processes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "tests/support/fake_redis.h"

namespace shardcast::agent {
namespace {

using Json = nlohmann::json;
using testsupport::FakeCluster;

Json BaseBody() {
  return {{"shardSet", "kv"},
          {"action", "a-1"},
          {"range", 4},
          {"start", 0},
          {"end", 100},
          {"source", "kv-0"},
          {"target", "kv-1"},
          {"sourceEndpoint", "10.0.0.1:6379"},
          {"targetEndpoint", "10.0.0.2:6379"},
          {"epoch", 12},
          {"fencingToken", 5}};
}

HttpAnswer Post(Agent& a, const std::string& hook, const Json& body) {
  return a.Handle({"POST", "/shardcast/" + hook, "", body.dump()});
}

class AgentFakeTest : public ::testing::Test {
 protected:
  AgentFakeTest() { opts_.redis = *ParseEndpoint("10.0.0.2:6379", "redis"); }
  AgentOptions opts_;
  FakeCluster cluster_;
};

TEST_F(AgentFakeTest, PrepareMarksTargetImportingAndSourceMigrating) {
  Agent a(opts_, cluster_.Factory(), nullptr);
  auto ans = Post(a, "prepare", BaseBody());
  ASSERT_EQ(ans.status, 200) << ans.body;
  EXPECT_EQ(cluster_.Shard("10.0.0.2:6379")->strings["__shardcast:range:4"],
            "importing 12 10.0.0.1:6379");
  EXPECT_EQ(cluster_.Shard("10.0.0.1:6379")->strings["__shardcast:range:4"],
            "migrating 12 10.0.0.2:6379");
  EXPECT_EQ(cluster_.Shard("10.0.0.2:6379")->strings["__shardcast:fence"], "5");
}

TEST_F(AgentFakeTest, EveryMissingOrInvalidFieldIsNamed) {
  Agent a(opts_, cluster_.Factory(), nullptr);
  for (const char* field : {"shardSet", "action", "range", "start", "end", "source", "target",
                            "sourceEndpoint", "targetEndpoint", "epoch", "fencingToken"}) {
    Json b = BaseBody();
    b.erase(field);
    auto ans = Post(a, "prepare", b);
    EXPECT_EQ(ans.status, 400) << field;
    EXPECT_NE(ans.body.find(field), std::string::npos) << ans.body;
  }
  Json b = BaseBody();
  b["end"] = -1;
  EXPECT_NE(Post(a, "copy", b).body.find("end"), std::string::npos);
  EXPECT_EQ(a.Handle({"POST", "/shardcast/nope", "", "{}"}).status, 404);
  EXPECT_EQ(a.Handle({"GET", "/shardcast/prepare", "", ""}).status, 405);
  EXPECT_EQ(a.Handle({"GET", "/shardcast/progress", "", ""}).status, 400);
}

TEST_F(AgentFakeTest, LowerTokensAreRefusedAndTheHighestIsKept) {
  Agent a(opts_, cluster_.Factory(), nullptr);
  Json b = BaseBody();
  b["fencingToken"] = 9;
  ASSERT_EQ(Post(a, "prepare", b).status, 200);
  b["action"] = "a-2";
  b["fencingToken"] = 8;
  auto ans = Post(a, "prepare", b);
  EXPECT_EQ(ans.status, 409);
  EXPECT_NE(ans.body.find("fencingToken: 8 is lower than 9"), std::string::npos) << ans.body;
  // A new agent on the same shard remembers the fence.
  Agent restarted(opts_, cluster_.Factory(), nullptr);
  EXPECT_EQ(Post(restarted, "prepare", b).status, 409);
}

TEST_F(AgentFakeTest, ARepeatedActionStepIsAnsweredFromItsRecord) {
  Agent a(opts_, cluster_.Factory(), nullptr);
  auto first = Post(a, "prepare", BaseBody());
  ASSERT_EQ(first.status, 200);
  // Someone else moves the marker; a replay must not touch it again.
  cluster_.Shard("10.0.0.2:6379")->strings["__shardcast:range:4"] = "changed";
  Agent restarted(opts_, cluster_.Factory(), nullptr);
  auto again = Post(restarted, "prepare", BaseBody());
  EXPECT_EQ(again.status, first.status);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(cluster_.Shard("10.0.0.2:6379")->strings["__shardcast:range:4"], "changed");
  // A retry of the same step after other moves published newer documents.
  Json newer = BaseBody();
  newer["epoch"] = newer["epoch"].get<int64_t>() + 3;
  auto retried = Post(restarted, "prepare", newer);
  EXPECT_EQ(retried.status, first.status);
  EXPECT_EQ(retried.body, first.body);
  Json other = BaseBody();
  other["range"] = 5;
  EXPECT_EQ(Post(restarted, "prepare", other).status, 409);
}

TEST_F(AgentFakeTest, ActionRecordsAreBounded) {
  opts_.max_records = 3;
  Agent a(opts_, cluster_.Factory(), nullptr);
  for (int i = 0; i < 6; ++i) {
    Json b = BaseBody();
    b["action"] = "r-" + std::to_string(i);
    ASSERT_EQ(Post(a, "prepare", b).status, 200);
  }
  EXPECT_EQ(cluster_.Shard("10.0.0.2:6379")->hashes["__shardcast:actions"].size(), 3u);
  EXPECT_TRUE(
      cluster_.Shard("10.0.0.2:6379")->hashes["__shardcast:actions"].contains("r-5/prepare"));
}

TEST_F(AgentFakeTest, PrepareRefusesASourceThatGaveTheRangeAway) {
  cluster_.Shard("10.0.0.1:6379")->strings["__shardcast:range:4"] = "gone 3 10.0.0.9:6379";
  Agent a(opts_, cluster_.Factory(), nullptr);
  auto ans = Post(a, "prepare", BaseBody());
  EXPECT_EQ(ans.status, 409);
  EXPECT_FALSE(cluster_.Shard("10.0.0.2:6379")->strings.contains("__shardcast:range:4"));
}

}  // namespace
}  // namespace shardcast::agent
