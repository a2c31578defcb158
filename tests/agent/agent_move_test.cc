// Data-plane tests of shardcast-agent against real redis-server processes:
// a full move under a concurrent client that uses the protocol's Lua script,
// abort, fencing and idempotency across restarts, a copy resumed after the
// agent is killed, and the range size report.
#include <gtest/gtest.h>

#include "tests/support/agent_fixtures.h"

namespace shardcast::testsupport {
namespace {

using namespace agentfix;  // NOLINT(google-build-using-namespace)

class AgentMoveTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = MakeTempDir("agent-test"); }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(AgentMoveTest, FullMoveCarriesEveryKeyOfTheRangeAndLosesNoAcknowledgedWrite) {
  RedisServer src(root_), dst(root_);
  AgentProcess target(root_, dst.port(), {"--copy-rate", "1500", "--copy-batch", "50"});
  AgentProcess source(root_, src.port());
  RedisClient s(src.port()), d(dst.port());
  Populate(s, 3000);
  std::map<std::string, std::string> expected;
  for (const auto& k : ClientKeys(s)) expected[k] = Content(s, k);

  SeqWriter writer(src.port(), RangeKeys("w:", 40));
  writer.Start();
  const std::string body = Body("move-1", src, dst, 10);
  ASSERT_EQ(target.Post("prepare", body).status, 200);
  ASSERT_EQ(target.Post("copy", body).status, 202);
  EXPECT_EQ(State(target, "move-1"), "copying");
  ASSERT_TRUE(
      WaitUntil([&] { return State(target, "move-1") == "done"; }, std::chrono::seconds(60)));
  auto cut = target.Post("cutover", body);
  ASSERT_EQ(cut.status, 200) << cut.body;
  const std::int64_t at_cutover = writer.writes();
  ASSERT_TRUE(WaitUntil([&] { return writer.writes() > at_cutover + 200; }));
  writer.Stop();
  auto rel = source.Post("release", body);
  ASSERT_EQ(rel.status, 200) << rel.body;

  EXPECT_GT(writer.writes(), 400);
  ExpectEveryAckedWriteOn(writer, d);  // the new owner
  // Every key of the range moved with its content and TTL; the rest stayed.
  const auto on_src = ClientKeys(s), on_dst = ClientKeys(d);
  int moved = 0;
  for (const auto& [k, content] : expected) {
    if (InRange(k)) {
      ++moved;
      EXPECT_TRUE(on_dst.contains(k)) << k;
      EXPECT_EQ(Content(d, k), content) << k;
      if (std::stoi(k.substr(2)) % 3 == 0) {
        EXPECT_GT(d.Cmd({"PTTL", k}).integer, 0) << k;
      }
    } else {
      EXPECT_TRUE(on_src.contains(k)) << k;
      EXPECT_FALSE(on_dst.contains(k)) << k;
    }
  }
  EXPECT_GT(moved, 1000);
  for (const auto& k : on_src) EXPECT_FALSE(on_dst.contains(k)) << "on both shards: " << k;
  for (const auto& k : on_dst) EXPECT_TRUE(InRange(k)) << "out of range on target: " << k;
  EXPECT_EQ(s.Cmd({"GET", "__shardcast:range:7"}).str, "gone 3 " + dst.endpoint());
  EXPECT_TRUE(d.Cmd({"GET", "__shardcast:range:7"}).nil());
  // The metrics count what moved.
  auto m = HttpCall(target.metrics_port(), "GET", "/metrics");
  EXPECT_NE(m.body.find("shardcast_agent_keys_copied_total{kind=\"move\"}"), std::string::npos);
}

TEST_F(AgentMoveTest, AbortBeforeCutoverPutsEveryKeyBackIncludingWritesTheTargetTook) {
  RedisServer src(root_), dst(root_);
  AgentProcess target(root_, dst.port(), {"--copy-rate", "400", "--copy-batch", "20"});
  RedisClient s(src.port()), d(dst.port());
  Populate(s, 2000);
  const auto before = ClientKeys(s);
  SeqWriter writer(src.port(), RangeKeys("w:", 30));
  writer.Start();
  const std::string body = Body("move-2", src, dst, 11);
  ASSERT_EQ(target.Post("prepare", body).status, 200);
  ASSERT_EQ(target.Post("copy", body).status, 202);
  // Wait until part of the range (and some of the writer's keys) is on the target.
  ASSERT_TRUE(WaitUntil([&] { return d.Cmd({"DBSIZE"}).integer > 300; }));
  auto ab = target.Post("abort", body);
  ASSERT_EQ(ab.status, 202) << ab.body;
  ASSERT_TRUE(
      WaitUntil([&] { return State(target, "move-2") == "done"; }, std::chrono::seconds(60)));
  const std::int64_t after_abort = writer.writes();
  ASSERT_TRUE(WaitUntil([&] { return writer.writes() > after_abort + 100; }));
  writer.Stop();
  ExpectEveryAckedWriteOn(writer, s);  // back on the source
  EXPECT_TRUE(ClientKeys(d).empty());
  auto after = ClientKeys(s);
  for (const auto& k : before) EXPECT_TRUE(after.contains(k)) << k;
  EXPECT_TRUE(s.Cmd({"GET", "__shardcast:range:7"}).nil());
  EXPECT_TRUE(d.Cmd({"GET", "__shardcast:range:7"}).nil());
  // After cutover, abort is refused: a revert is a new move.
  const std::string b2 = Body("move-3", src, dst, 11);
  ASSERT_EQ(target.Post("prepare", b2).status, 200);
  ASSERT_EQ(target.Post("copy", b2).status, 202);
  ASSERT_TRUE(
      WaitUntil([&] { return State(target, "move-3") == "done"; }, std::chrono::seconds(60)));
  ASSERT_EQ(target.Post("cutover", b2).status, 200);
  EXPECT_EQ(target.Post("abort", b2).status, 409);
}

TEST_F(AgentMoveTest, FencingRefusesALowerTokenAndSurvivesARestart) {
  RedisServer src(root_), dst(root_);
  AgentProcess target(root_, dst.port());
  ASSERT_EQ(target.Post("prepare", Body("f-1", src, dst, 20)).status, 200);
  auto low = target.Post("prepare", Body("f-2", src, dst, 19));
  EXPECT_EQ(low.status, 409);
  EXPECT_NE(low.body.find("fencingToken"), std::string::npos) << low.body;
  target.Restart();
  EXPECT_EQ(target.Post("prepare", Body("f-3", src, dst, 19)).status, 409);
  EXPECT_EQ(RedisClient(dst.port()).Cmd({"GET", "__shardcast:fence"}).str, "20");
  // The source shard was fenced too, by the marker write on it.
  EXPECT_EQ(RedisClient(src.port()).Cmd({"GET", "__shardcast:fence"}).str, "20");
  EXPECT_EQ(target.Post("prepare", Body("f-4", src, dst, 21)).status, 200);
  // Missing or invalid fields are named.
  auto bad = target.Post("prepare", R"({"shardSet":"kv","action":"x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("range"), std::string::npos) << bad.body;
  Json j = Json::parse(Body("f-5", src, dst, 21));
  j["targetEndpoint"] = "nohostport";
  bad = target.Post("prepare", j.dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("targetEndpoint"), std::string::npos) << bad.body;
}

TEST_F(AgentMoveTest, ARepeatedActionGetsTheSameAnswerAlsoAfterARestart) {
  RedisServer src(root_), dst(root_);
  AgentProcess target(root_, dst.port());
  RedisClient s(src.port());
  Populate(s, 200);
  const std::string body = Body("idem-1", src, dst, 5);
  auto first = target.Post("prepare", body);
  ASSERT_EQ(first.status, 200);
  auto again = target.Post("prepare", body);
  EXPECT_EQ(again.status, first.status);
  EXPECT_EQ(again.body, first.body);
  ASSERT_EQ(target.Post("copy", body).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return State(target, "idem-1") == "done"; }));
  auto cut = target.Post("cutover", body);
  ASSERT_EQ(cut.status, 200);
  target.Restart();
  auto cut2 = target.Post("cutover", body);
  EXPECT_EQ(cut2.status, cut.status);
  EXPECT_EQ(cut2.body, cut.body);
  EXPECT_EQ(State(target, "idem-1"), "done");
  // A retry carrying a newer routing epoch is the same step: same answer.
  auto newer = target.Post("cutover", Body("idem-1", src, dst, 5, /*epoch=*/9));
  EXPECT_EQ(newer.status, cut.status);
  EXPECT_EQ(newer.body, cut.body);
  // The same action id and step asking for something else is refused.
  Json changed = Json::parse(body);
  changed["target"] = "kv-9";
  auto other = target.Post("cutover", changed.dump());
  EXPECT_EQ(other.status, 409);
  EXPECT_NE(other.body.find("action"), std::string::npos) << other.body;
  auto m = HttpCall(target.metrics_port(), "GET", "/metrics");
  EXPECT_NE(m.body.find("result=\"replayed\""), std::string::npos) << m.body;
}

TEST_F(AgentMoveTest, AnAgentKilledMidCopyResumesAndCompletes) {
  RedisServer src(root_), dst(root_);
  AgentProcess target(root_, dst.port(), {"--copy-rate", "300", "--copy-batch", "10"});
  RedisClient s(src.port()), d(dst.port());
  Populate(s, 1000);
  int in_range = 0;
  for (const auto& k : ClientKeys(s)) in_range += InRange(k) ? 1 : 0;
  const std::string body = Body("kill-1", src, dst, 7);
  ASSERT_EQ(target.Post("prepare", body).status, 200);
  auto copy = target.Post("copy", body);
  ASSERT_EQ(copy.status, 202);
  ASSERT_TRUE(WaitUntil([&] { return ClientKeys(d).size() >= 50; }));
  target.Kill();
  const auto partial = ClientKeys(d).size();
  EXPECT_LT(partial, static_cast<std::size_t>(in_range));
  target.Start();
  // Resumed from __shardcast:jobs without a new request.
  EXPECT_EQ(State(target, "kill-1"), "copying");
  ASSERT_TRUE(
      WaitUntil([&] { return State(target, "kill-1") == "done"; }, std::chrono::seconds(60)));
  EXPECT_EQ(ClientKeys(d).size(), static_cast<std::size_t>(in_range));
  for (const auto& k : ClientKeys(s)) EXPECT_FALSE(InRange(k)) << k;
  auto again = target.Post("copy", body);
  EXPECT_EQ(again.status, copy.status);
  EXPECT_EQ(again.body, copy.body);
  EXPECT_EQ(target.Post("cutover", body).status, 200);
}

TEST_F(AgentMoveTest, RangeSizeReportCountsKeysAndBytes) {
  RedisServer src(root_);
  AgentProcess agent(root_, src.port());
  RedisClient s(src.port());
  std::map<int, std::uint64_t> keys, bytes;
  for (int i = 0; i < 400; ++i) {
    const std::string k = "size:" + std::to_string(i);
    s.Cmd({"SET", k, std::string(10 + i % 200, 'x')});
  }
  for (int i = 0; i < 400; ++i) {
    const std::string k = "size:" + std::to_string(i);
    const int r = static_cast<int>(agent::Fnv1a64High32(k) >> 30);  // 4 equal ranges
    ++keys[r];
    bytes[r] += static_cast<std::uint64_t>(s.Cmd({"MEMORY", "USAGE", k}).integer);
  }
  auto exact = Json::parse(agent.Get("/shardcast/ranges?count=4").body);
  EXPECT_TRUE(exact["bytesExact"].get<bool>());
  EXPECT_EQ(exact["keys"].get<int>(), 400);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(exact["ranges"][r]["keys"].get<std::uint64_t>(), keys[r]) << r;
    EXPECT_EQ(exact["ranges"][r]["bytes"].get<std::uint64_t>(), bytes[r]) << r;
  }
  auto sampled = Json::parse(agent.Get("/shardcast/ranges?count=4&samples=40").body);
  EXPECT_FALSE(sampled["bytesExact"].get<bool>());
  EXPECT_LE(sampled["sampledKeys"].get<int>(), 41);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(sampled["ranges"][r]["keys"].get<std::uint64_t>(), keys[r]);
    const double est = sampled["ranges"][r]["bytes"].get<double>();
    EXPECT_NEAR(est, static_cast<double>(bytes[r]), 0.5 * static_cast<double>(bytes[r])) << r;
  }
  EXPECT_EQ(agent.Get("/shardcast/ranges?count=0").status, 400);

  // POST with an explicit list (CONTRACTS C4): the same counts for the
  // listed ranges, in the request's order; keys outside them are not counted.
  Json list = {{"ranges",
                {{{"id", 2}, {"start", 2147483648u}, {"end", 3221225471u}},
                 {{"id", 0}, {"start", 0}, {"end", 1073741823u}}}}};
  auto posted = agent.Post("ranges", list.dump());
  ASSERT_EQ(posted.status, 200) << posted.body;
  auto p = Json::parse(posted.body);
  EXPECT_TRUE(p["bytesExact"].get<bool>());
  EXPECT_EQ(p["keys"].get<std::uint64_t>(), keys[2] + keys[0]);
  ASSERT_EQ(p["ranges"].size(), 2u);
  EXPECT_EQ(p["ranges"][0]["id"].get<int>(), 2);
  EXPECT_EQ(p["ranges"][0]["keys"].get<std::uint64_t>(), keys[2]);
  EXPECT_EQ(p["ranges"][0]["bytes"].get<std::uint64_t>(), bytes[2]);
  EXPECT_EQ(p["ranges"][1]["keys"].get<std::uint64_t>(), keys[0]);
  EXPECT_EQ(p["ranges"][1]["bytes"].get<std::uint64_t>(), bytes[0]);
  auto psampled = Json::parse(agent.Post("ranges?samples=40", list.dump()).body);
  EXPECT_FALSE(psampled["bytesExact"].get<bool>());
  EXPECT_EQ(psampled["ranges"][0]["keys"].get<std::uint64_t>(), keys[2]);
  list["ranges"][1]["end"] = "x";
  auto bad = agent.Post("ranges", list.dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("ranges[1].end"), std::string::npos) << bad.body;
  EXPECT_EQ(agent.Post("ranges", "not json").status, 400);
}

// CONTRACTS C5: a failed verification after cutover runs the move's reverse
// (prepare, copy, cutover with source and target swapped) before release.
// The old source still holds stale copies of the range: prepare deletes them
// first, so a key deleted on the new owner does not come back, and every
// write the new owner took goes back with the data.
TEST_F(AgentMoveTest, ARevertAfterCutoverCarriesTheNewOwnersWritesAndDeletes) {
  RedisServer a(root_), b(root_);
  AgentProcess agent_a(root_, a.port());
  AgentProcess agent_b(root_, b.port());
  RedisClient ca(a.port()), cb(b.port());
  Populate(ca, 600);
  const std::string fwd = Body("rev-1", a, b, 30);
  ASSERT_EQ(agent_b.Post("prepare", fwd).status, 200);
  ASSERT_EQ(agent_b.Post("copy", fwd).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return State(agent_b, "rev-1") == "done"; }));
  ASSERT_EQ(agent_b.Post("cutover", fwd).status, 200);
  // No release on A yet: put the range's keys back on A as stale copies,
  // the way they would be there had the copy been a copy.
  std::vector<std::string> moved;
  for (const auto& k : ClientKeys(cb)) moved.push_back(k);
  ASSERT_GT(moved.size(), 100u);
  for (const auto& k : moved) {
    ASSERT_FALSE(cb.Cmd({"MIGRATE", "127.0.0.1", std::to_string(a.port()), "", "0", "5000", "COPY",
                         "REPLACE", "KEYS", k})
                     .err());
  }
  // The new owner B takes writes: a delete, an update and a new key.
  DataplaneClient client(kRange, a.port());  // starts at the old owner: MOVED
  const std::string deleted = moved[0], updated = moved[1];
  const std::string added = RangeKeys("after-cutover:", 1)[0];
  ASSERT_EQ(client.Run("w", {"DEL", deleted}).integer, 1);
  ASSERT_FALSE(client.Run("w", {"SET", updated, "new"}).err());
  ASSERT_FALSE(client.Run("w", {"SET", added, "fresh"}).err());
  EXPECT_EQ(client.owner(), b.port());
  EXPECT_TRUE(ca.Cmd({"EXISTS", deleted}).integer == 1);  // stale copy on A

  // The reverse: B -> A under action rev-1-revert, a higher epoch.
  const std::string rev = Json{
      {"shardSet", "kv"},
      {"action", "rev-1-revert"},
      {"range", kRange},
      {"start", kStart},
      {"end", kEnd},
      {"source", "kv-1"},
      {"target", "kv-0"},
      {"sourceEndpoint", b.endpoint()},
      {"targetEndpoint", a.endpoint()},
      {"epoch", 4},
      {"fencingToken", 31}}.dump();
  auto prep = agent_a.Post("prepare", rev);
  ASSERT_EQ(prep.status, 200) << prep.body;
  EXPECT_EQ(Json::parse(prep.body)["staleDeleted"].get<std::size_t>(), moved.size());
  EXPECT_EQ(ca.Cmd({"EXISTS", deleted}).integer, 0);
  ASSERT_EQ(agent_a.Post("copy", rev).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return State(agent_a, "rev-1-revert") == "done"; }));
  auto cut = agent_a.Post("cutover", rev);
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(cb.Cmd({"GET", "__shardcast:range:7"}).str, "gone 4 " + a.endpoint());
  EXPECT_TRUE(ca.Cmd({"GET", "__shardcast:range:7"}).nil());
  ASSERT_EQ(agent_b.Post("release", rev).status, 200);

  // Every key is on A with B's last value; the deleted key did not come back.
  EXPECT_EQ(ca.Cmd({"EXISTS", deleted}).integer, 0);
  EXPECT_EQ(ca.Cmd({"GET", updated}).str, "new");
  EXPECT_EQ(ca.Cmd({"GET", added}).str, "fresh");
  const auto on_a = ClientKeys(ca);
  for (std::size_t i = 1; i < moved.size(); ++i) EXPECT_TRUE(on_a.contains(moved[i])) << moved[i];
  EXPECT_TRUE(ClientKeys(cb).empty());
  EXPECT_EQ(client.Run("", {"GET", added}).str, "fresh");
  EXPECT_TRUE(client.Run("", {"GET", deleted}).nil());
  EXPECT_EQ(client.owner(), a.port());
}

}  // namespace
}  // namespace shardcast::testsupport
