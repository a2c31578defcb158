// Echo tests against real redis-server processes: fill, sync within the
// bound after owner writes, staleness, and removal.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "agent/hash.h"
#include "tests/support/dataplane_client.h"
#include "tests/support/processes.h"

namespace shardcast::testsupport {
namespace {

using Json = nlohmann::json;
constexpr std::uint32_t kEnd = 2147483647u;

std::string Body(const std::string& action, const RedisServer& owner, const RedisServer& echo,
                 std::int64_t token) {
  return Json{{"shardSet", "kv"},
              {"action", action},
              {"range", 2},
              {"start", 0},
              {"end", kEnd},
              {"source", "kv-0"},
              {"target", "kv-4"},
              {"sourceEndpoint", owner.endpoint()},
              {"targetEndpoint", echo.endpoint()},
              {"epoch", 9},
              {"fencingToken", token}}
      .dump();
}

std::vector<std::string> RangeKeys(int n) {
  std::vector<std::string> out;
  for (int i = 0; static_cast<int>(out.size()) < n; ++i) {
    const std::string k = "e:" + std::to_string(i);
    if (agent::KeyInRange(k, 0, kEnd)) out.push_back(k);
  }
  return out;
}

TEST(AgentEchoTest, EchoFollowsTheOwnerWithinTheBoundAndIsRefusedAfterRemove) {
  const auto root = MakeTempDir("agent-echo");
  {
    RedisServer owner(root), echo(root);
    AgentProcess agent(root, echo.port(), {"--echo-bound", "500ms"});
    RedisClient o(owner.port()), e(echo.port());
    const auto keys = RangeKeys(300);
    for (const auto& k : keys) o.Cmd({"SET", k, "v0"});
    std::string outside = "o:0";
    for (int i = 1; agent::KeyInRange(outside, 0, kEnd); ++i) outside = "o:" + std::to_string(i);
    o.Cmd({"SET", outside, "x"});

    const std::string body = Body("echo-1", owner, echo, 3);
    auto add = agent.Post("echo-add", body);
    ASSERT_EQ(add.status, 202) << add.body;
    ASSERT_TRUE(WaitUntil([&] {
      auto p = Json::parse(agent.Get("/shardcast/progress?action=echo-1&range=2").body);
      return p.value("state", "") == "done";
    }));
    EXPECT_EQ(e.Cmd({"GET", "__shardcast:range:2"}).str, "echo 9 " + owner.endpoint());
    EXPECT_EQ(e.Cmd({"GET", keys[5]}).str, "v0");
    EXPECT_TRUE(e.Cmd({"GET", outside}).nil());

    // A write through the script on the owner reaches the echo within the bound.
    DataplaneClient client(2, owner.port());
    ASSERT_FALSE(client.Run("w", {"SET", keys[7], "v1"}).err());
    ASSERT_FALSE(client.Run("w", {"DEL", keys[8]}).err());
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(WaitUntil(
        [&] {
          return client.Run("e", {"GET", keys[7]}, echo.port()).str == "v1" &&
                 client.Run("e", {"EXISTS", keys[8]}, echo.port()).integer == 0;
        },
        std::chrono::seconds(5)));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
    // Writes to the echo are refused.
    EXPECT_EQ(client.Run("w", {"SET", keys[7], "bad"}, echo.port()).str, "SHARDCAST READONLY");

    // A stopped agent cannot keep the bound: the echo marker lapses and echo
    // reads are refused until it catches up again.
    agent.Signal(SIGSTOP);
    ASSERT_FALSE(client.Run("w", {"SET", keys[9], "v2"}).err());
    EXPECT_TRUE(WaitUntil([&] {
      return client.Run("e", {"GET", keys[9]}, echo.port()).str == "SHARDCAST NOTECHO";
    }));
    agent.Signal(SIGCONT);
    EXPECT_TRUE(WaitUntil([&] {
      return client.Run("e", {"GET", keys[9]}, echo.port()).str == "v2";
    }));

    // The owner's log lost: the echo marks itself stale and refuses echo reads.
    o.Cmd({"DEL", "__shardcast:wlog:2"});
    EXPECT_TRUE(WaitUntil([&] {
      return e.Cmd({"GET", "__shardcast:range:2"}).str.rfind("echo-stale ", 0) == 0;
    }));
    EXPECT_EQ(client.Run("e", {"GET", keys[7]}, echo.port()).str, "SHARDCAST NOTECHO");
    auto m = HttpCall(agent.metrics_port(), "GET", "/metrics");
    EXPECT_NE(m.body.find("shardcast_agent_echo_lag_seconds{range=\"2\"}"), std::string::npos);

    auto rm = agent.Post("echo-remove", Body("echo-1-rm", owner, echo, 3));
    ASSERT_EQ(rm.status, 200) << rm.body;
    EXPECT_EQ(Json::parse(rm.body)["echoesLeft"].get<int>(), 0);
    EXPECT_TRUE(e.Cmd({"GET", "__shardcast:range:2"}).nil());
    EXPECT_TRUE(e.Cmd({"GET", keys[5]}).nil());
    EXPECT_EQ(client.Run("e", {"GET", keys[5]}, echo.port()).str, "SHARDCAST NOTECHO");
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:wlog:2"}).integer, 0);
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:echoes:2"}).integer, 0);
    // The owner still serves everything.
    EXPECT_EQ(client.Run("", {"GET", keys[7]}).str, "v1");
  }
  std::filesystem::remove_all(root);
}

TEST(AgentEchoTest, TheOwnersLogStaysWhileAnotherEchoRemains) {
  const auto root = MakeTempDir("agent-echo2");
  {
    RedisServer owner(root), echo1(root), echo2(root);
    AgentProcess a1(root, echo1.port()), a2(root, echo2.port());
    RedisClient o(owner.port());
    for (const auto& k : RangeKeys(20)) o.Cmd({"SET", k, "v"});
    ASSERT_EQ(a1.Post("echo-add", Body("x1", owner, echo1, 1)).status, 202);
    ASSERT_EQ(a2.Post("echo-add", Body("x2", owner, echo2, 1)).status, 202);
    EXPECT_EQ(o.Cmd({"SCARD", "__shardcast:echoes:2"}).integer, 2);
    auto rm = a1.Post("echo-remove", Body("x1-rm", owner, echo1, 1));
    ASSERT_EQ(rm.status, 200) << rm.body;
    EXPECT_EQ(Json::parse(rm.body)["echoesLeft"].get<int>(), 1);
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:wlog:2"}).integer, 1);
    ASSERT_EQ(a2.Post("echo-remove", Body("x2-rm", owner, echo2, 1)).status, 200);
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:wlog:2"}).integer, 0);
  }
  std::filesystem::remove_all(root);
}

// A move of the range takes writes past the owner's log (ASK writes land on
// the target): its echoes must stop answering echo reads, not serve data
// that no longer follows the owner.
TEST(AgentEchoTest, AMoveOfTheRangeTurnsItsEchoesStale) {
  const auto root = MakeTempDir("agent-echo3");
  {
    RedisServer owner(root), echo(root), target(root);
    AgentProcess ea(root, echo.port()), ta(root, target.port());
    RedisClient o(owner.port()), e(echo.port());
    for (const auto& k : RangeKeys(50)) o.Cmd({"SET", k, "v"});
    ASSERT_EQ(ea.Post("echo-add", Body("x1", owner, echo, 1)).status, 202);
    ASSERT_TRUE(WaitUntil([&] {
      return e.Cmd({"GET", "__shardcast:range:2"}).str == "echo 9 " + owner.endpoint();
    }));
    Json move = Json::parse(Body("m1", owner, target, 2));
    move["target"] = "kv-5";
    move["targetEndpoint"] = target.endpoint();
    auto prep = ta.Post("prepare", move.dump());
    ASSERT_EQ(prep.status, 200) << prep.body;
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:wlog:2"}).integer, 0);
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:echoes:2"}).integer, 0);
    EXPECT_TRUE(WaitUntil([&] {
      return e.Cmd({"GET", "__shardcast:range:2"}).str.rfind("echo-stale ", 0) == 0;
    }));
    DataplaneClient client(2, owner.port());
    EXPECT_EQ(client.Run("e", {"GET", RangeKeys(1)[0]}, echo.port()).str, "SHARDCAST NOTECHO");
  }
  std::filesystem::remove_all(root);
}

// A move to an echo from another source than the one it follows (the
// owner's endpoint changed) is no pre-warmed move: the follower stops for
// good, its copies go before the shard imports, and the old owner forgets it.
TEST(AgentEchoTest, AMoveFromAnotherSourceDropsTheEchosCopiesFirst) {
  const auto root = MakeTempDir("agent-echo4");
  {
    RedisServer old_owner(root), owner(root), echo(root);
    AgentProcess ea(root, echo.port());
    RedisClient o(old_owner.port()), n(owner.port()), e(echo.port());
    const auto keys = RangeKeys(40);
    for (const auto& k : keys) o.Cmd({"SET", k, "old"});
    for (const auto& k : keys) n.Cmd({"SET", k, "new"});
    ASSERT_EQ(ea.Post("echo-add", Body("x1", old_owner, echo, 1)).status, 202);
    ASSERT_TRUE(WaitUntil([&] {
      return e.Cmd({"GET", "__shardcast:range:2"}).str == "echo 9 " + old_owner.endpoint();
    }));
    auto prep = ea.Post("prepare", Body("m1", owner, echo, 2));
    ASSERT_EQ(prep.status, 200) << prep.body;
    const Json ans = Json::parse(prep.body);
    EXPECT_FALSE(ans.value("prewarmed", false)) << prep.body;
    EXPECT_EQ(ans.value("staleDeleted", -1), static_cast<int>(keys.size())) << prep.body;
    EXPECT_EQ(e.Cmd({"GET", "__shardcast:range:2"}).str, "importing 9 " + owner.endpoint());
    for (const auto& k : keys) EXPECT_TRUE(e.Cmd({"GET", k}).nil()) << k;
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:echoes:2"}).integer, 0);
    EXPECT_EQ(o.Cmd({"EXISTS", "__shardcast:wlog:2"}).integer, 0);
    // The move itself copies the new owner's keys.
    ASSERT_EQ(ea.Post("copy", Body("m1", owner, echo, 2)).status, 202);
    ASSERT_TRUE(WaitUntil([&] {
      auto p = Json::parse(ea.Get("/shardcast/progress?action=m1&range=2").body);
      return p.value("state", "") == "done";
    }));
    for (const auto& k : keys) EXPECT_EQ(e.Cmd({"GET", k}).str, "new") << k;
  }
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace shardcast::testsupport
