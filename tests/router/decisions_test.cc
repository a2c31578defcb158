#include "router/decisions.h"

#include <gtest/gtest.h>

#include <map>

#include "router/commands.h"
#include "tests/router/test_docs.h"

namespace shardcast::router {
namespace {

Range HotRange() {
  Range r;
  r.id = 7;
  r.owner = "kv-0";
  r.endpoint = "127.0.0.1:7000";
  r.echoes = {{"kv-4", "127.0.0.1:7004", {}}, {"kv-5", "127.0.0.1:7005", {}}};
  return r;
}

struct FakeLoad {
  std::map<std::string, std::uint64_t> outstanding;
  std::map<std::string, double> factors;
  std::set<std::string> disabled;
  LoadView view() {
    return {[this](const std::string& ep) { return outstanding[ep]; },
            [this](const std::string& pod) {
              auto it = factors.find(pod);
              return it == factors.end() ? 1.0 : it->second;
            },
            &disabled};
  }
};

TEST(Decisions, WritesGoToTheOwner) {
  Destination d = WriteDestination(HotRange());
  EXPECT_EQ(d.endpoint, "127.0.0.1:7000");
  EXPECT_FALSE(d.echo);
}

TEST(Decisions, ReadsPickFewestOutstandingWeightedByForecast) {
  FakeLoad load;
  Range r = HotRange();
  // All idle and equal: the owner wins ties.
  EXPECT_EQ(ReadDestination(r, nullptr, load.view()).endpoint, "127.0.0.1:7000");
  load.outstanding["127.0.0.1:7000"] = 4;
  load.outstanding["127.0.0.1:7004"] = 2;
  load.outstanding["127.0.0.1:7005"] = 1;
  Destination d = ReadDestination(r, nullptr, load.view());
  EXPECT_EQ(d.endpoint, "127.0.0.1:7005");
  EXPECT_TRUE(d.echo);
  EXPECT_EQ(d.pod, "kv-5");
  // kv-5 is forecast to be 3x as loaded: (1+1)*3 = 6 > (2+1)*1 = 3.
  load.factors["kv-5"] = 3.0;
  EXPECT_EQ(ReadDestination(r, nullptr, load.view()).endpoint, "127.0.0.1:7004");
  // A disabled (NOTECHO) echo is skipped; so is one without endpoint.
  load.disabled.insert("127.0.0.1:7004");
  r.echoes[1].endpoint.clear();
  EXPECT_EQ(ReadDestination(r, nullptr, load.view()).endpoint, "127.0.0.1:7000");
  // Non-positive factors count as 1.
  load.disabled.clear();
  load.factors["kv-4"] = -2;
  load.outstanding["127.0.0.1:7000"] = 0;
  load.outstanding["127.0.0.1:7004"] = 0;
  EXPECT_EQ(ReadDestination(r, nullptr, load.view()).endpoint, "127.0.0.1:7000");
}

TEST(Decisions, ReadYourWritesKeepsReadsOfAWrittenRangeOnTheOwner) {
  FakeLoad load;
  load.outstanding["127.0.0.1:7000"] = 100;
  Range r = HotRange();
  Session s;
  EXPECT_TRUE(ReadDestination(r, &s, load.view()).echo);
  s.NoteWrite(7);
  EXPECT_TRUE(s.HasWritten(7));
  EXPECT_FALSE(s.HasWritten(8));
  EXPECT_EQ(ReadDestination(r, &s, load.view()).endpoint, "127.0.0.1:7000");
  Session other;  // another connection is not affected
  EXPECT_TRUE(ReadDestination(r, &other, load.view()).echo);
  s.NoteWrite(99999);  // out of range ids are ignored, never a crash
  EXPECT_FALSE(s.HasWritten(99999));
}

TEST(Decisions, ShadowMirrorsItsFractionDeterministically) {
  Range r = HotRange();
  r.state = RangeState::kShadow;
  r.source = "kv-0";
  r.target = "kv-3";
  r.target_endpoint = "127.0.0.1:7003";
  r.shadow_fraction = 0.1;
  int mirrored = 0;
  for (std::uint64_t i = 0; i < 100000; ++i) mirrored += ShouldShadow(r, i) ? 1 : 0;
  EXPECT_GT(mirrored, 9500);
  EXPECT_LT(mirrored, 10500);
  EXPECT_EQ(ShouldShadow(r, 12345), ShouldShadow(r, 12345));
  r.shadow_fraction = 1;
  EXPECT_TRUE(ShouldShadow(r, 1));
  r.target_endpoint = "";
  EXPECT_FALSE(ShouldShadow(r, 1));
  r.target_endpoint = "127.0.0.1:7003";
  r.state = RangeState::kMigrating;
  EXPECT_FALSE(ShouldShadow(r, 1));
}

TEST(Commands, TableIsSortedAndClassifiesCommands) {
  EXPECT_TRUE(CommandTableIsSorted());
  ASSERT_NE(LookupCommand("get"), nullptr);
  EXPECT_EQ(LookupCommand("get")->kind, CommandKind::kSingleKey);
  EXPECT_FALSE(LookupCommand("GET")->write);
  EXPECT_TRUE(LookupCommand("Set")->write);
  EXPECT_EQ(LookupCommand("MGET")->kind, CommandKind::kMultiKey);
  EXPECT_EQ(LookupCommand("MSET")->kind, CommandKind::kMset);
  EXPECT_EQ(LookupCommand("KEYS")->kind, CommandKind::kRefused);
  EXPECT_FALSE(LookupCommand("KEYS")->refusal.empty());
  EXPECT_EQ(LookupCommand("SUBSCRIBE")->kind, CommandKind::kRefused);
  EXPECT_EQ(LookupCommand("nosuchcommand"), nullptr);
  EXPECT_EQ(LookupCommand(""), nullptr);
  EXPECT_EQ(LookupCommand(std::string(100, 'a')), nullptr);
}

}  // namespace
}  // namespace shardcast::router
