#include "router/handoff.h"

#include <gtest/gtest.h>

#include "tests/router/test_docs.h"

namespace shardcast::router {
namespace {

using testing::EvenDocument;

TEST(ClassifyAnswer, ParsesTheScriptsAnswers) {
  EXPECT_EQ(ClassifyAnswer("SHARDCAST ASK 10.0.0.1:6379").kind, AnswerKind::kAsk);
  EXPECT_EQ(ClassifyAnswer("SHARDCAST ASK 10.0.0.1:6379").endpoint, "10.0.0.1:6379");
  ShardAnswer m = ClassifyAnswer("SHARDCAST MOVED 12 [fd00::2]:6379");
  EXPECT_EQ(m.kind, AnswerKind::kMoved);
  EXPECT_EQ(m.epoch, 12u);
  EXPECT_EQ(m.endpoint, "[fd00::2]:6379");
  EXPECT_EQ(ClassifyAnswer("SHARDCAST TRYAGAIN").kind, AnswerKind::kTryAgain);
  EXPECT_EQ(ClassifyAnswer("SHARDCAST NOTECHO").kind, AnswerKind::kNotEcho);
  EXPECT_EQ(ClassifyAnswer("SHARDCAST READONLY").kind, AnswerKind::kReadOnly);
  // Anything else is an ordinary reply to pass through.
  for (const char* s : {"", "ERR wrong number", "SHARDCAST", "SHARDCAST ASK", "SHARDCAST ASK a b",
                        "SHARDCAST MOVED x 1.2.3.4:1", "SHARDCAST MOVED 1", "SHARDCAST MOVED 1 a",
                        "SHARDCAST TRYAGAIN now", "WRONGTYPE Operation", "shardcast ask a:1"}) {
    EXPECT_EQ(ClassifyAnswer(s).kind, AnswerKind::kReply) << s;
  }
}

TEST(Handoff, AskGoesToTheTargetWithTheAskFlag) {
  Handoff h({"127.0.0.1:7000", false, false}, true);
  Step s = h.OnAnswer(ClassifyAnswer("SHARDCAST ASK 127.0.0.1:7001"));
  EXPECT_EQ(s.action, Action::kSend);
  EXPECT_EQ(h.current().endpoint, "127.0.0.1:7001");
  EXPECT_TRUE(h.current().asking);
  EXPECT_EQ(h.OnAnswer({}).action, Action::kReturn);
}

TEST(Handoff, AtMostThreeRedirects) {
  Handoff h({"127.0.0.1:7000", false, false}, false);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(h.OnAnswer(ClassifyAnswer("SHARDCAST ASK 127.0.0.1:7001")).action, Action::kSend);
  }
  Step s = h.OnAnswer(ClassifyAnswer("SHARDCAST ASK 127.0.0.1:7001"));
  EXPECT_EQ(s.action, Action::kFail);
  EXPECT_EQ(s.error.rfind("TRYAGAIN", 0), 0u);
}

TEST(Handoff, MovedReloadsAndUsesTheNewOwnerOrTheMovedEndpoint) {
  Document d = EvenDocument(4, 2, 5);  // range 1 owned by kv-1 at :7001
  std::uint32_t hash = d.ranges[1].start + 10;
  {
    Handoff h({"127.0.0.1:7001", false, false}, true);
    EXPECT_EQ(h.OnAnswer(ClassifyAnswer("SHARDCAST MOVED 6 127.0.0.1:7009")).action,
              Action::kReload);
    // The table is still epoch 5 (older than MOVED's 6): use the endpoint given.
    EXPECT_EQ(h.Resolve(Table(d), hash).action, Action::kSend);
    EXPECT_EQ(h.current().endpoint, "127.0.0.1:7009");
    EXPECT_FALSE(h.current().asking);
  }
  {
    Document newer = d;
    newer.epoch = 6;
    newer.ranges[1].owner = "kv-8";
    newer.ranges[1].endpoint = "127.0.0.1:7008";
    Handoff h({"127.0.0.1:7001", false, false}, true);
    (void)h.OnAnswer(ClassifyAnswer("SHARDCAST MOVED 6 127.0.0.1:7009"));
    EXPECT_EQ(h.Resolve(Table(newer), hash).action, Action::kSend);
    EXPECT_EQ(h.current().endpoint, "127.0.0.1:7008");
  }
  {
    // Never back to the shard that refused, even if the table says so.
    Document same = d;
    same.epoch = 7;
    Handoff h({"127.0.0.1:7001", false, false}, true);
    (void)h.OnAnswer(ClassifyAnswer("SHARDCAST MOVED 6 127.0.0.1:7009"));
    (void)h.Resolve(Table(same), hash);
    EXPECT_EQ(h.current().endpoint, "127.0.0.1:7009");
  }
}

TEST(Handoff, NotEchoAndReadOnlyGoToTheOwner) {
  Document d = EvenDocument(4, 2, 5);
  std::uint32_t hash = d.ranges[0].start;
  Handoff h({"127.0.0.1:7004", false, true}, false);
  Step s = h.OnAnswer(ClassifyAnswer("SHARDCAST NOTECHO"));
  EXPECT_EQ(s.action, Action::kReload);
  EXPECT_EQ(s.disabled_echo, "127.0.0.1:7004");
  EXPECT_EQ(h.Resolve(Table(d), hash).action, Action::kSend);
  EXPECT_EQ(h.current().endpoint, "127.0.0.1:7000");
  EXPECT_FALSE(h.current().echo);

  Handoff w({"127.0.0.1:7004", false, false}, true);
  EXPECT_EQ(w.OnAnswer(ClassifyAnswer("SHARDCAST READONLY")).action, Action::kReload);
  EXPECT_EQ(w.Resolve(Table(d), hash).action, Action::kSend);
  EXPECT_EQ(w.current().endpoint, "127.0.0.1:7000");

  // A stale table that still names the refusing shard: fail, never write there.
  Handoff stale({"127.0.0.1:7000", false, false}, true);
  (void)stale.OnAnswer(ClassifyAnswer("SHARDCAST READONLY"));
  EXPECT_EQ(stale.Resolve(Table(d), hash).action, Action::kFail);
}

TEST(Handoff, TryAgainSplitsAndMissingEndpointFails) {
  Handoff h({"127.0.0.1:7000", false, false}, true);
  EXPECT_EQ(h.OnAnswer(ClassifyAnswer("SHARDCAST TRYAGAIN")).action, Action::kSplit);
  Document d = EvenDocument(4, 2, 5);
  d.ranges[0].endpoint.clear();
  Handoff n({"127.0.0.1:7004", false, true}, false);
  (void)n.OnAnswer(ClassifyAnswer("SHARDCAST NOTECHO"));
  Step s = n.Resolve(Table(d), 0);
  EXPECT_EQ(s.action, Action::kFail);
  EXPECT_EQ(s.error, "TRYAGAIN shardcast: range 0 has no endpoint yet");
}

}  // namespace
}  // namespace shardcast::router
