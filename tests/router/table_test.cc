#include "router/table.h"

#include <gtest/gtest.h>

#include <thread>

#include "router/hash.h"
#include "tests/router/test_docs.h"

namespace shardcast::router {
namespace {

using testing::EvenDocument;

TEST(Hash, VectorsOfRoutingDoc) {
  struct V {
    const char* key;
    std::uint64_t fnv;
    std::uint32_t hash;
    std::uint32_t range;
  };
  const V vectors[] = {{"", 0xcbf29ce484222325ull, 3421674724u, 203},
                       {"a", 0xaf63dc4c8601ec8cull, 2942557260u, 175},
                       {"foo", 0xdcb27518fed9d577ull, 3702682904u, 220},
                       {"user:42", 0x6c151ea4dcd221c2ull, 1813323428u, 108},
                       {"hello world", 0x779a65e7023cd2e7ull, 2006607335u, 119}};
  Table table(EvenDocument(256, 3, 1));
  for (const V& v : vectors) {
    EXPECT_EQ(Fnv1a64(v.key), v.fnv) << v.key;
    EXPECT_EQ(KeyHash(v.key), v.hash) << v.key;
    EXPECT_EQ(table.RangeOfKey(v.key).id, v.range) << v.key;
  }
  static_assert(KeyHash("a") == 2942557260u);
}

TEST(Table, LookupFindsTheRangeHoldingEveryBoundary) {
  Document d = EvenDocument(5, 2, 1);
  Table t(d);
  for (const Range& r : d.ranges) {
    EXPECT_EQ(t.RangeOfHash(r.start).id, r.id);
    EXPECT_EQ(t.RangeOfHash(r.end).id, r.id);
  }
  EXPECT_EQ(t.RangeOfHash(0).id, 0u);
  EXPECT_EQ(t.RangeOfHash(0xffffffffu).id, 4u);
  ASSERT_NE(t.ById(3), nullptr);
  EXPECT_EQ(t.ById(3)->start, d.ranges[3].start);
  EXPECT_EQ(t.ById(9), nullptr);
}

TEST(TableHolder, AppliesNewerEpochsOnlyAndKeepsTheLastGoodOnError) {
  TableHolder h;
  EXPECT_EQ(h.Get(), nullptr);
  auto r = h.Update(EvenDocument(4, 2, 5));
  EXPECT_EQ(r.outcome, UpdateOutcome::kApplied);
  EXPECT_EQ(h.Get()->epoch(), 5u);
  std::uint64_t v = h.version();

  r = h.Update(EvenDocument(4, 3, 5));
  EXPECT_EQ(r.outcome, UpdateOutcome::kIgnoredNotNewer);
  r = h.Update(EvenDocument(4, 3, 4));
  EXPECT_EQ(r.outcome, UpdateOutcome::kIgnoredNotNewer);
  EXPECT_EQ(h.ignored(), 2u);
  EXPECT_EQ(h.version(), v);
  EXPECT_EQ(h.Get()->at(2).owner, "kv-0");

  r = h.Update(std::string_view("{\"schemaVersion\": 9}"));
  EXPECT_EQ(r.outcome, UpdateOutcome::kRejectedInvalid);
  EXPECT_EQ(r.error, "schemaVersion: must be 1 (got 9)");
  EXPECT_EQ(r.epoch_in_use, 5u);
  EXPECT_EQ(h.rejected(), 1u);
  EXPECT_EQ(h.last_error(), "schemaVersion: must be 1 (got 9)");
  Document bad = EvenDocument(4, 2, 9);
  bad.ranges[1].owner.clear();
  EXPECT_EQ(h.Update(bad).outcome, UpdateOutcome::kRejectedInvalid);
  EXPECT_EQ(h.Get()->epoch(), 5u);

  r = h.Update(SerializeDocument(EvenDocument(4, 3, 6)));
  EXPECT_EQ(r.outcome, UpdateOutcome::kApplied);
  EXPECT_EQ(h.Get()->at(2).owner, "kv-2");
  EXPECT_GT(h.version(), v);
}

TEST(TableHolder, ReadersSeeWholeTablesWhileUpdatesRace) {
  TableHolder h;
  ASSERT_EQ(h.Update(EvenDocument(64, 3, 1)).outcome, UpdateOutcome::kApplied);
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto t = h.Get();
      // Every table is built with one pod count: owners of ranges 0 and 1
      // agree with the epoch's pod count.
      int pods = static_cast<int>(t->epoch() % 2) + 2;
      if (t->at(1).owner != "kv-" + std::to_string(1 % pods)) torn.fetch_add(1);
      if (t->at(2).owner != "kv-" + std::to_string(2 % pods)) torn.fetch_add(1);
    }
  });
  for (std::uint64_t e = 2; e < 400; ++e) {
    (void)h.Update(EvenDocument(64, static_cast<int>(e % 2) + 2, e));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(h.Get()->epoch(), 399u);
}

}  // namespace
}  // namespace shardcast::router
