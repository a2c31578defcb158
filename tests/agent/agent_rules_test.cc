// Pure logic of shardcast-agent: hashing, requests, markers, replay
// records, the rate limiter, progress, range sizes, flags, HTTP parsing.
#include <gtest/gtest.h>

#include "agent/flags.h"
#include "agent/hash.h"
#include "agent/request.h"
#include "agent/rules.h"

namespace shardcast::agent {
namespace {

TEST(AgentHash, MatchesTheRoutingDocumentsVectors) {
  EXPECT_EQ(Fnv1a64High32(""), 3421674724u);
  EXPECT_EQ(Fnv1a64High32("a"), 2942557260u);
  EXPECT_EQ(Fnv1a64High32("foo"), 3702682904u);
  EXPECT_EQ(Fnv1a64High32("user:42"), 1813323428u);
  EXPECT_EQ(Fnv1a64High32("hello world"), 2006607335u);
  EXPECT_TRUE(KeyInRange("foo", 3702682904u, 3702682904u));
  EXPECT_FALSE(KeyInRange("foo", 0, 3702682903u));
  EXPECT_FALSE(KeyInRange("__shardcast:range:1", 0, 0xffffffffu));
}

TEST(AgentRequest, ParsesAValidBody) {
  auto r = ParseHookRequest(R"({"shardSet":"kv","action":"m-1","range":3,"start":0,"end":4294967295,
    "source":"kv-0","target":"kv-1","sourceEndpoint":"10.0.0.1:6379",
    "targetEndpoint":"[fd00::2]:6379","epoch":7,"fencingToken":12})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->end, 4294967295u);
  EXPECT_EQ(r->target_endpoint.host, "fd00::2");
  EXPECT_EQ(r->target_endpoint.port, 6379);
  EXPECT_EQ(r->fencing_token, 12);
}

TEST(AgentRequest, ErrorsNameTheField) {
  const std::string ok = R"("shardSet":"kv","action":"m","range":3,"start":5,"source":"a",
    "target":"b","sourceEndpoint":"h:1","targetEndpoint":"h:2","epoch":1)";
  auto check = [&](const std::string& extra, const std::string& field) {
    auto r = ParseHookRequest("{" + ok + extra + "}");
    ASSERT_FALSE(r) << extra;
    EXPECT_EQ(r.error().message.rfind(field + ":", 0), 0u) << r.error().message;
  };
  check(R"(,"end":9)", "fencingToken");
  check(R"(,"end":4,"fencingToken":1)", "end");
  check(R"(,"end":4294967296,"fencingToken":1)", "end");
  check(R"(,"end":9,"fencingToken":0)", "fencingToken");
  check(R"(,"end":9,"fencingToken":"1")", "fencingToken");
  EXPECT_FALSE(ParseHookRequest("[]"));
  EXPECT_FALSE(ParseEndpoint("host", "x"));
  EXPECT_FALSE(ParseEndpoint("host:0", "x"));
  EXPECT_FALSE(ParseEndpoint("host:99999", "x"));
  EXPECT_FALSE(ParseEndpoint("[::1]6379", "x"));
  EXPECT_FALSE(ParseHookName("nope"));
  EXPECT_EQ(HookName(*ParseHookName("echo-add")), "echo-add");
}

TEST(AgentRequest, QueryStrings) {
  auto q = ParseQuery("action=m%2D1&range=3&x&y=a+b");
  EXPECT_EQ(q["action"], "m-1");
  EXPECT_EQ(q["range"], "3");
  EXPECT_EQ(q["y"], "a b");
  EXPECT_TRUE(q.contains("x"));
}

TEST(AgentRules, MarkersRoundTrip) {
  Marker m{MarkerKind::kEchoStale, 42, "10.0.0.1:6379"};
  EXPECT_EQ(FormatMarker(m), "echo-stale 42 10.0.0.1:6379");
  auto p = ParseMarker("migrating 7 [::1]:6379");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, MarkerKind::kMigrating);
  EXPECT_EQ(p->epoch, 7);
  EXPECT_FALSE(ParseMarker("moving 7 h:1"));
  EXPECT_FALSE(ParseMarker("gone x h:1"));
  EXPECT_FALSE(ParseMarker("gone 1 h:1 extra"));
}

TEST(AgentRules, ReplayDecisions) {
  EXPECT_FALSE(DecideReplay(std::nullopt, "fp").replay);
  ActionRecord rec{"fp", 200, "{}"};
  EXPECT_TRUE(DecideReplay(rec, "fp").replay);
  auto c = DecideReplay(rec, "other");
  EXPECT_TRUE(c.conflict);
  EXPECT_FALSE(c.replay);
  auto round = DecodeRecord(EncodeRecord(rec));
  ASSERT_TRUE(round);
  EXPECT_EQ(round->body, "{}");
  EXPECT_FALSE(DecodeRecord("{"));
  EXPECT_TRUE(ShouldRecord(202));
  EXPECT_FALSE(ShouldRecord(503));
  EXPECT_TRUE(FenceAllows(5, 5));
  EXPECT_FALSE(FenceAllows(5, 4));
}

TEST(AgentRules, TokenBucketLimitsTheRate) {
  using namespace std::chrono;
  TokenBucket b(100, 10);  // 100 keys/s, burst 10
  const auto t0 = TokenBucket::Clock::now();
  EXPECT_EQ(b.Take(10, t0).count(), 0);
  EXPECT_EQ(b.Take(10, t0).count(), 100000);  // 10 keys at 100/s: 100 ms
  EXPECT_EQ(b.Take(5, t0 + milliseconds(200)).count(), 0);
  TokenBucket unlimited(0, 0);
  EXPECT_EQ(unlimited.Take(1e9, t0).count(), 0);
}

TEST(AgentRules, ProgressAndSizes) {
  EXPECT_EQ(CopyProgress(JobState::kDone, 0, 0), 1.0);
  EXPECT_EQ(CopyProgress(JobState::kCopying, 50, 100), 0.5);
  EXPECT_EQ(CopyProgress(JobState::kCopying, 500, 100), 0.99);
  EXPECT_EQ(ProgressJson(JobState::kCopying, 0.5, ""), R"({"progress":0.5,"state":"copying"})");
  auto r = EqualRanges(256);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].end, 16777215u);
  EXPECT_EQ((*r)[255].end, 4294967295u);
  EXPECT_EQ(FindRange(*r, Fnv1a64High32("foo")), 220u);
  EXPECT_EQ(FindRange(*r, Fnv1a64High32("user:42")), 108u);
  EXPECT_FALSE(EqualRanges(0));
  EXPECT_EQ(EstimateBytes({10, 10, 1000}, 0), 1000u);
  EXPECT_EQ(EstimateBytes({10, 2, 200}, 0), 1000u);
  EXPECT_EQ(EstimateBytes({10, 0, 0}, 50.0), 500u);
  EXPECT_EQ(SampleStride(100, 1000), 1u);
  EXPECT_EQ(SampleStride(1000, 100), 10u);
  EXPECT_EQ(SampleStride(1000, 0), 0u);
}

TEST(AgentRules, RangeListParsesAndNamesTheBadField) {
  auto ok = ParseRangeList(
      R"({"ranges":[{"id":9,"start":100,"end":199},{"id":3,"start":0,"end":99},
                    {"id":4095,"start":4000000000,"end":4294967295}]})");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[0].id, 9u);  // the request's order
  EXPECT_EQ((*ok)[2].end, 4294967295u);
  const RangeIndex index(*ok);
  EXPECT_EQ(index.Index(0), std::optional<std::size_t>(1));
  EXPECT_EQ(index.Index(99), std::optional<std::size_t>(1));
  EXPECT_EQ(index.Index(100), std::optional<std::size_t>(0));
  EXPECT_EQ(index.Index(200), std::nullopt);  // between listed ranges
  EXPECT_EQ(index.Index(4294967295u), std::optional<std::size_t>(2));
  EXPECT_TRUE(ParseRangeList(R"({"ranges":[]})"));
  const std::pair<const char*, const char*> bad[] = {
      {"[]", "body:"},
      {"{}", "ranges: required"},
      {R"({"ranges":{}})", "ranges: must be an array"},
      {R"({"ranges":[1]})", "ranges[0]: must be an object"},
      {R"({"ranges":[{"start":0,"end":1}]})", "ranges[0].id: required"},
      {R"({"ranges":[{"id":4096,"start":0,"end":1}]})", "ranges[0].id: must be"},
      {R"({"ranges":[{"id":-1,"start":0,"end":1}]})", "ranges[0].id: must be"},
      {R"({"ranges":[{"id":1,"start":"0","end":1}]})", "ranges[0].start: must be"},
      {R"({"ranges":[{"id":1,"start":0,"end":4294967296}]})", "ranges[0].end: must be"},
      {R"({"ranges":[{"id":1,"start":0,"end":1},{"id":2,"start":5,"end":4}]})",
       "ranges[1].end: must be >= start"},
      {R"({"ranges":[{"id":1,"start":0,"end":1},{"id":1,"start":5,"end":6}]})",
       "ranges[1].id: 1 is listed twice"},
      {R"({"ranges":[{"id":1,"start":0,"end":10},{"id":2,"start":10,"end":20}]})",
       "ranges[1]: overlaps ranges[0]"},
  };
  for (const auto& [body, want] : bad) {
    auto r = ParseRangeList(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().message.rfind(want, 0), 0u) << body << " -> " << r.error().message;
  }
  std::string many = R"({"ranges":[)";
  for (int i = 0; i <= 4096; ++i) {
    many += (i ? "," : "") + std::string(R"({"id":0,"start":0,"end":0})");
  }
  many += "]}";
  EXPECT_EQ(ParseRangeList(many).error().message.rfind("ranges: at most 4096", 0), 0u);
}

TEST(AgentFlags, ParsesAndNamesBadFlags) {
  auto f = ParseFlags({"--redis", "10.0.0.1:7000", "--copy-rate=500", "--echo-bound", "250ms",
                       "--copy-batch", "20", "--listen", ":9000"});
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->agent.redis.port, 7000);
  EXPECT_EQ(f->agent.copy_rate, 500);
  EXPECT_EQ(f->agent.echo_bound.count(), 250);
  EXPECT_EQ(f->agent.copy_batch, 20);
  EXPECT_EQ(ParseFlags({"--echo-bound", "2s"})->agent.echo_bound.count(), 2000);
  EXPECT_EQ(ParseFlags({"--copy-rate", "-1"}).error().message.rfind("--copy-rate", 0), 0u);
  EXPECT_EQ(ParseFlags({"--copy-batch", "0"}).error().message.rfind("--copy-batch", 0), 0u);
  EXPECT_EQ(ParseFlags({"--echo-bound", "soon"}).error().message.rfind("--echo-bound", 0), 0u);
  EXPECT_EQ(ParseFlags({"--echo-bound", "50ms"}).error().message.rfind("--echo-bound", 0), 0u);
  EXPECT_EQ(ParseFlags({"--redis", "nope"}).error().message.rfind("--redis", 0), 0u);
  EXPECT_FALSE(ParseFlags({"--what", "1"}));
}

TEST(AgentFlags, EchoPaceIsAtMostAQuarterOfTheBound) {
  EXPECT_EQ(ParseFlags({})->agent.echo_pace.count(), 50);
  EXPECT_EQ(ParseFlags({"--echo-pace", "0"})->agent.echo_pace.count(), 0);
  EXPECT_EQ(ParseFlags({"--echo-pace", "20ms"})->agent.echo_pace.count(), 20);
  EXPECT_EQ(ParseFlags({"--echo-bound", "200ms"})->agent.echo_pace.count(), 50);
  auto too_slow = ParseFlags({"--echo-pace", "300ms"});
  ASSERT_FALSE(too_slow);
  EXPECT_EQ(too_slow.error().message,
            "--echo-pace: must be at most a quarter of --echo-bound (250ms), got 300ms");
  EXPECT_EQ(ParseFlags({"--echo-pace", "fast"}).error().message.rfind("--echo-pace", 0), 0u);
}

}  // namespace
}  // namespace shardcast::agent
