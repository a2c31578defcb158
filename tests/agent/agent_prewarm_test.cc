// Pre-warmed moves against real redis-server processes: a range moves to the
// pod that already echoes it, under a concurrent client. The move copies no
// key (the echo's copy becomes the owner's data), every acknowledged write
// ends on the new owner, and an abort (also from a frozen source, as a
// cutover that died midway leaves it) leaves the source serving everything.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/support/agent_fixtures.h"

namespace shardcast::testsupport {
namespace {

using namespace agentfix;  // NOLINT(google-build-using-namespace)

// The value of a labelled counter on /metrics, 0 when absent.
double Counter(const AgentProcess& a, const std::string& series) {
  const std::string text = HttpCall(a.metrics_port(), "GET", "/metrics").body;
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

class AgentPrewarmTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = MakeTempDir("agent-prewarm"); }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Adds the target as an echo of range 7 and waits until it is filled.
  void Echo(const AgentProcess& target, const RedisServer& src, const RedisServer& dst) {
    auto add = target.Post("echo-add", Body("echo-1", src, dst, 10));
    ASSERT_EQ(add.status, 202) << add.body;
    ASSERT_TRUE(
        WaitUntil([&] { return State(target, "echo-1") == "done"; }, std::chrono::seconds(60)));
  }
  std::filesystem::path root_;
};

TEST_F(AgentPrewarmTest, AMoveToTheEchoCopiesNoKeyAndLosesNoAcknowledgedWrite) {
  RedisServer src(root_), dst(root_);
  AgentProcess target(root_, dst.port(), {"--echo-bound", "500ms"});
  AgentProcess source(root_, src.port());
  RedisClient s(src.port()), d(dst.port());
  Populate(s, 3000);
  std::map<std::string, std::string> expected;
  for (const auto& k : ClientKeys(s)) {
    if (InRange(k)) expected[k] = Content(s, k);
  }
  Echo(target, src, dst);
  const double filled = Counter(target, "shardcast_agent_keys_copied_total{kind=\"echo-fill\"}");
  EXPECT_EQ(filled, static_cast<double>(expected.size()));

  SeqWriter writer(src.port(), RangeKeys("w:", 40));
  writer.Start();
  ASSERT_TRUE(WaitUntil([&] { return writer.writes() > 200; }));
  const std::string body = Body("move-1", src, dst, 11);
  auto prep = target.Post("prepare", body);
  ASSERT_EQ(prep.status, 200) << prep.body;
  EXPECT_TRUE(Json::parse(prep.body).value("prewarmed", false)) << prep.body;
  EXPECT_EQ(d.Cmd({"GET", "__shardcast:range:7"}).str, "importing 3 " + src.endpoint());
  EXPECT_TRUE(s.Cmd({"GET", "__shardcast:range:7"}).nil());  // the source serves all
  // The follower leaves `importing` alone while it keeps applying the log.
  const std::int64_t at_prepare = writer.writes();
  ASSERT_TRUE(WaitUntil([&] { return writer.writes() > at_prepare + 200; }));
  EXPECT_EQ(d.Cmd({"GET", "__shardcast:range:7"}).str, "importing 3 " + src.endpoint());

  ASSERT_EQ(target.Post("copy", body).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return State(target, "move-1") == "done"; }));
  // A burst the follower has not applied when the cutover comes (its agent
  // stopped meanwhile): the cutover waits for it, with the source frozen.
  target.Signal(SIGSTOP);
  const auto burst = RangeKeys("b:", 3000);
  DataplaneClient bulk(kRange, src.port());
  for (const auto& k : burst) ASSERT_FALSE(bulk.Run("w", {"SET", k, "b-" + k}).err());
  target.Signal(SIGCONT);
  auto cut = target.Post("cutover", body);
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_LT(Json::parse(cut.body).value("writesPausedMs", 1e9), 2000) << cut.body;
  const std::int64_t at_cutover = writer.writes();
  ASSERT_TRUE(WaitUntil([&] { return writer.writes() > at_cutover + 200; }));
  writer.Stop();
  auto rel = source.Post("release", body);
  ASSERT_EQ(rel.status, 200) << rel.body;

  ExpectEveryAckedWriteOn(writer, d);
  for (const auto& k : burst) EXPECT_EQ(d.Cmd({"GET", k}).str, "b-" + k);
  for (const auto& [k, content] : expected) {
    EXPECT_EQ(Content(d, k), content) << k;
    if (std::stoi(k.substr(2)) % 3 == 0) {
      EXPECT_GT(d.Cmd({"PTTL", k}).integer, 0) << k;
    }
  }
  const auto on_src = ClientKeys(s), on_dst = ClientKeys(d);
  for (const auto& k : on_src) EXPECT_FALSE(InRange(k)) << "left on the source: " << k;
  for (const auto& k : on_dst) EXPECT_TRUE(InRange(k)) << "out of range on target: " << k;
  EXPECT_EQ(s.Cmd({"GET", "__shardcast:range:7"}).str, "gone 3 " + dst.endpoint());
  EXPECT_TRUE(d.Cmd({"GET", "__shardcast:range:7"}).nil());
  EXPECT_EQ(s.Cmd({"EXISTS", "__shardcast:wlog:7"}).integer, 0);
  EXPECT_EQ(s.Cmd({"EXISTS", "__shardcast:echoes:7"}).integer, 0);
  // The move itself carried no key: what the echo lacked came through its log.
  EXPECT_EQ(Counter(target, "shardcast_agent_keys_copied_total{kind=\"move\"}"), 0);
  EXPECT_EQ(Counter(target, "shardcast_agent_keys_copied_total{kind=\"echo-fill\"}"), filled);
  EXPECT_GE(Counter(target, "shardcast_agent_keys_copied_total{kind=\"echo-refresh\"}"),
            static_cast<double>(burst.size()));
  EXPECT_GT(Counter(target, "shardcast_agent_bytes_copied_total{kind=\"echo-fill\"}"), 0);

  // An echo-remove that arrives late (the pod owns the range now) keeps the keys.
  auto rm = target.Post("echo-remove", Body("echo-1-rm", src, dst, 12));
  ASSERT_EQ(rm.status, 200) << rm.body;
  EXPECT_EQ(Json::parse(rm.body)["deleted"].get<int>(), 0);
  EXPECT_EQ(ClientKeys(d).size(), on_dst.size());
}

TEST_F(AgentPrewarmTest, AnAbortLeavesTheSourceServingAlsoAfterACutoverDiedFrozen) {
  RedisServer src(root_), dst(root_);
  AgentProcess target(root_, dst.port(), {"--echo-bound", "500ms"});
  RedisClient s(src.port()), d(dst.port());
  Populate(s, 1000);
  Echo(target, src, dst);
  SeqWriter writer(src.port(), RangeKeys("w:", 30));
  writer.Start();
  const std::string body = Body("move-2", src, dst, 11);
  ASSERT_EQ(target.Post("prepare", body).status, 200);
  ASSERT_EQ(target.Post("copy", body).status, 202);
  // The agent restarts mid-move: it refills its copy, keeping `importing`.
  target.Restart();
  ASSERT_TRUE(
      WaitUntil([&] { return State(target, "move-2") == "done"; }, std::chrono::seconds(60)));
  EXPECT_EQ(d.Cmd({"GET", "__shardcast:range:7"}).str, "importing 3 " + src.endpoint());
  // A cutover that froze the source and died there.
  s.Cmd({"SET", "__shardcast:range:7", "frozen 3 " + dst.endpoint()});
  const std::int64_t frozen_at = writer.writes();
  auto ab = target.Post("abort", body);
  ASSERT_EQ(ab.status, 202) << ab.body;
  EXPECT_EQ(State(target, "move-2"), "done");
  ASSERT_TRUE(WaitUntil([&] { return writer.writes() > frozen_at + 200; }));
  writer.Stop();

  ExpectEveryAckedWriteOn(writer, s);
  EXPECT_TRUE(s.Cmd({"GET", "__shardcast:range:7"}).nil());
  EXPECT_TRUE(d.Cmd({"GET", "__shardcast:range:7"}).nil());
  for (const auto& k : ClientKeys(d)) EXPECT_FALSE(InRange(k)) << "left on the target: " << k;
  EXPECT_EQ(s.Cmd({"EXISTS", "__shardcast:wlog:7"}).integer, 0);
  EXPECT_EQ(s.Cmd({"EXISTS", "__shardcast:echoes:7"}).integer, 0);
}

}  // namespace
}  // namespace shardcast::testsupport
