#include "controllers/forecast/persist.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shardcast::forecast {
namespace {

constexpr int64_t kT0 = 1767225600;

Json SetObj() {
  return Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"ShardSet",
    "metadata":{"name":"kv","namespace":"ns","uid":"set-uid"},"spec":{}})");
}

SetState Filled(int pods, int ranges, int minutes) {
  SetState st;
  for (int p = 0; p < pods; ++p) {
    for (int i = 0; i < minutes; ++i) {
      double v = 300 + 100 * std::sin(i / 30.0 + p);
      st.AddPodUsage({"kv-" + std::to_string(p), v, 1e8 + i, true, true}, kT0 + 60 * i);
    }
  }
  for (int r = 0; r < ranges; ++r) {
    for (int i = 0; i < minutes; i += 15) st.Range(r).hist.Add(kT0 + 60 * i, 10 + r + std::sin(i));
  }
  return st;
}

TEST(HistoryConfigMap, RoundTripThroughTheObjectBuilder) {
  SetState st = Filled(2, 4, 600);
  BuildReport rep;
  Json cm = BuildHistoryConfigMap(SetObj(), st, kT0 + 36000, kDefaultSnapshotBudget, &rep);
  EXPECT_EQ(cm["metadata"]["name"], "kv-history");
  EXPECT_EQ(cm["metadata"]["namespace"], "ns");
  EXPECT_EQ(cm["metadata"]["labels"]["shardcast.dev/shardset"], "kv");
  ASSERT_EQ(cm["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["uid"], "set-uid");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["kind"], "ShardSet");
  EXPECT_TRUE(cm["data"].contains("cpu.kv-0"));
  EXPECT_TRUE(cm["data"].contains("mem.kv-1"));
  EXPECT_TRUE(cm["data"].contains("range.3"));
  EXPECT_FALSE(cm["data"].contains("rps.kv-0"));  // never sampled: not written
  EXPECT_TRUE(rep.dropped.empty());
  Json meta = Json::parse(cm["data"]["meta.json"].get<std::string>());
  EXPECT_EQ(meta["savedAt"], kT0 + 36000);
  // Through JSON text, as the API server would store it.
  Json stored = Json::parse(cm.dump());
  SetState back;
  std::vector<std::string> errors;
  EXPECT_EQ(LoadHistoryConfigMap(stored, back, &errors), 2u * 2 + 4);
  EXPECT_TRUE(errors.empty());
  for (const char* pod : {"kv-0", "kv-1"}) {
    auto a = st.pods().at(pod).cpu.hist.Series(0);
    auto b = back.pods().at(pod).cpu.hist.Series(0);
    ASSERT_EQ(a.values.size(), b.values.size());
    EXPECT_EQ(a.start, b.start);
    for (size_t i = 0; i < a.values.size(); ++i) {
      if (std::isnan(a.values[i])) {
        EXPECT_TRUE(std::isnan(b.values[i]));
      } else {
        EXPECT_NEAR(a.values[i], b.values[i], 0.01) << i;  // 16-bit quantisation of 200..400
      }
    }
  }
  EXPECT_NEAR(back.ranges().at(2).hist.Series(0).values.back(),
              st.ranges().at(2).hist.Series(0).values.back(), 0.01);
}

TEST(HistoryConfigMap, BudgetKeepsPodCpuFirstAndReportsDrops) {
  SetState st = Filled(3, 20, 3000);
  BuildReport full;
  Json all = BuildHistoryConfigMap(SetObj(), st, kT0, kDefaultSnapshotBudget, &full);
  EXPECT_TRUE(full.dropped.empty());
  EXPECT_LT(all.dump().size(), 1024u * 1024);
  // A budget for roughly the CPU series only.
  size_t cpu = 0;
  for (int p = 0; p < 3; ++p)
    cpu += all["data"]["cpu.kv-" + std::to_string(p)].get<std::string>().size() + 10;
  BuildReport rep;
  Json small = BuildHistoryConfigMap(SetObj(), st, kT0, cpu + 4096 + 100, &rep);
  EXPECT_TRUE(small["data"].contains("cpu.kv-2"));
  EXPECT_FALSE(rep.dropped.empty());
  EXPECT_LE(rep.bytes, cpu + 4096 + 100);
  Json meta = Json::parse(small["data"]["meta.json"].get<std::string>());
  EXPECT_EQ(meta["droppedCount"], rep.dropped.size());
}

TEST(HistoryConfigMap, ManyRangesAreTrimmedOldestFirstToFit1MiB) {
  SetState st = Filled(6, 0, 5 * 7 * 1440 / 4);  // ~9 days of pod series
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 1);
  const int buckets = 3360;  // 5 weeks at 15 min
  for (int r = 0; r < 256; ++r) {
    for (int i = 0; i < buckets; ++i) st.Range(r).hist.Add(kT0 + 900 * i, 10 + noise(rng));
  }
  BuildReport rep;
  Json cm = BuildHistoryConfigMap(SetObj(), st, kT0, kDefaultSnapshotBudget, &rep);
  EXPECT_TRUE(rep.dropped.empty())
      << rep.dropped.size() << " dropped, first " << rep.dropped.front();
  EXPECT_GT(rep.trimmed, 0u);
  EXPECT_LE(rep.bytes, kDefaultSnapshotBudget);
  EXPECT_LT(cm.dump().size(), 1024u * 1024 - 16 * 1024);  // room for metadata
  EXPECT_TRUE(cm["data"].contains("cpu.kv-5"));
  EXPECT_TRUE(cm["data"].contains("range.255"));
  SetState back;
  std::vector<std::string> errors;
  EXPECT_EQ(LoadHistoryConfigMap(cm, back, &errors), 6u * 2 + 256);
  EXPECT_TRUE(errors.empty());
  // The newest buckets of the coarsest level survive the trim; the oldest
  // are gone.
  const auto& h7 = st.ranges().at(7).hist;
  auto a = h7.Series(h7.levels() - 1);
  auto b = back.ranges().at(7).hist.Series(h7.levels() - 1);
  ASSERT_EQ(a.values.size(), b.values.size());
  EXPECT_NEAR(a.values.back(), b.values.back(), 0.01);
  EXPECT_TRUE(std::isnan(b.values.front()));
  EXPECT_FALSE(std::isnan(a.values.front()));
}

TEST(HistoryConfigMap, CorruptEntriesAreSkippedAndNamed) {
  SetState st = Filled(1, 0, 100);
  Json cm = BuildHistoryConfigMap(SetObj(), st, kT0);
  cm["data"]["cpu.kv-9"] = "AAAA";
  cm["data"]["bogus"] = "x";
  cm["data"]["range.abc"] = cm["data"]["cpu.kv-0"];
  cm["data"]["weird.kv-0"] = cm["data"]["cpu.kv-0"];
  SetState back;
  std::vector<std::string> errors;
  EXPECT_EQ(LoadHistoryConfigMap(cm, back, &errors), 2u);  // cpu.kv-0 and mem.kv-0
  ASSERT_EQ(errors.size(), 4u);
  std::string all;
  for (auto& e : errors) all += e + "\n";
  EXPECT_NE(all.find("data.cpu.kv-9"), std::string::npos) << all;
  EXPECT_NE(all.find("data.range.abc"), std::string::npos) << all;
  EXPECT_EQ(LoadHistoryConfigMap(Json("garbage"), back, &errors), 0u);
}

TEST(HistoryConfigMap, DifferentResolutionsAreReplayed) {
  StateOptions fine;
  fine.pod_resolutions = {{1, 600}, {60, 100}};
  SetState a(fine);
  for (int i = 0; i < 300; ++i) a.AddPodUsage({"kv-0", 250, 0, true, false}, kT0 + i);
  Json cm = BuildHistoryConfigMap(SetObj(), a, kT0 + 300);
  SetState b;  // default resolutions (60 s, 900 s)
  std::vector<std::string> errors;
  EXPECT_EQ(LoadHistoryConfigMap(cm, b, &errors), 1u);
  auto s = b.pods().at("kv-0").cpu.hist.Series(0);
  EXPECT_EQ(s.step, 60);
  EXPECT_NEAR(s.values.back(), 250, 0.01);
}

TEST(Backfill, SeedFromCsv) {
  SetState st;
  std::string csv = "timestamp,value\n";
  for (int i = 0; i < 50; ++i)
    csv += std::to_string(kT0 + 60 * i) + "," + std::to_string(100 + i) + "\n";
  auto n = SeedFromCsv(st, "kv-0", "cpu", csv);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 50u);
  EXPECT_DOUBLE_EQ(st.pods().at("kv-0").cpu.hist.Series(0).values.back(), 149);
  auto bad = SeedFromCsv(st, "kv-0", "cpu", "t,v\n1700000000,abc\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("line 2"), std::string::npos) << bad.error().message;
  auto metric = SeedFromCsv(st, "kv-0", "disk", csv);
  ASSERT_FALSE(metric);
  EXPECT_NE(metric.error().message.find("metric"), std::string::npos);
}

TEST(Backfill, SeedsRangeSeriesAndRoundTripsThemAtFullResolution) {
  SetState st;
  std::string csv = "timestamp,value\n";
  for (int i = 0; i < 600; ++i)
    csv += std::to_string(kT0 + 300 * i) + "," + std::to_string(200 + i % 7) + "\n";
  auto n = SeedFromCsv(st, "12", "range", csv);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 600u);
  ASSERT_TRUE(st.ranges().count(12));
  EXPECT_TRUE(st.pods().empty());
  auto bad_id = SeedFromCsv(st, "kv-0", "range", csv);
  ASSERT_FALSE(bad_id);
  EXPECT_NE(bad_id.error().message.find("range id"), std::string::npos) << bad_id.error().message;
  // The 5-minute level survives a save and load (pod forecasts are composed
  // from it at the policy step).
  Json cm = BuildHistoryConfigMap(SetObj(), st, kT0 + 300 * 600);
  SetState back;
  std::vector<std::string> errors;
  EXPECT_EQ(LoadHistoryConfigMap(cm, back, &errors), 1u);
  auto a = st.ranges().at(12).hist.Series(0), b = back.ranges().at(12).hist.Series(0);
  ASSERT_EQ(a.step, 300);
  ASSERT_EQ(a.values.size(), b.values.size());
  size_t present = 0;
  for (size_t i = 0; i < a.values.size(); ++i) {
    if (std::isnan(a.values[i])) continue;
    ++present;
    EXPECT_NEAR(a.values[i], b.values[i], 0.01) << i;
  }
  EXPECT_EQ(present, 600u);
}

}  // namespace
}  // namespace shardcast::forecast
