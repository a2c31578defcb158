#include "predictor/history.h"

#include <gtest/gtest.h>

#include <cmath>

namespace shardcast::predictor {
namespace {

TEST(History, RejectsBadResolutions) {
  auto r = History::Create({{60, 10}, {90, 10}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("resolutions[1].step"), std::string::npos);
  EXPECT_FALSE(History::Create({{60, 0}}).ok());
  EXPECT_FALSE(History::Create({}).ok());
}

TEST(History, RingBufferAggregatesAndKeepsWindow) {
  auto h = History::Create({{60, 5}, {300, 4}});
  ASSERT_TRUE(h.ok());
  for (int i = 0; i < 10; ++i) h->Add(i * 60 + 1, i);
  h->Add(9 * 60 + 30, 11);  // same bucket as 9: mean 10
  auto fine = h->Series(0);
  ASSERT_EQ(fine.values.size(), 5u);
  EXPECT_EQ(fine.start, 5 * 60);
  EXPECT_DOUBLE_EQ(fine.values[0], 5);
  EXPECT_DOUBLE_EQ(fine.values[4], 10);
  auto coarse = h->Series(1);
  ASSERT_EQ(coarse.values.size(), 4u);
  EXPECT_DOUBLE_EQ(coarse.values[2], 2);  // mean of 0..4
  EXPECT_NEAR(coarse.values[3], (5 + 6 + 7 + 8 + 9 + 11) / 6.0, 1e-5);
  // A gap clears skipped buckets.
  h->Add(13 * 60, 1);
  fine = h->Series(0);
  EXPECT_TRUE(std::isnan(fine.values[2]));
  EXPECT_DOUBLE_EQ(fine.values[4], 1);
  h->Add(60, INFINITY);
  EXPECT_DOUBLE_EQ(h->Series(0).values[4], 1);
}

TEST(History, MemoryPerSeriesWithDefaultResolutionsUnder100KB) {
  auto h = History::Create(DefaultResolutions());
  ASSERT_TRUE(h.ok());
  for (int64_t t = 0; t < 6 * 7 * 86400; t += 60) h->Add(t, 100 + std::sin(t / 3600.0));
  RecordProperty("memory_bytes", static_cast<int>(h->MemoryBytes()));
  EXPECT_LT(h->MemoryBytes(), 100u * 1024u);
  const std::string snap = h->EncodeSnapshot();
  RecordProperty("snapshot_bytes", static_cast<int>(snap.size()));
  EXPECT_LT(snap.size(), 40u * 1024u);
}

TEST(History, SnapshotRoundTripWithinQuantisation) {
  auto h = History::Create({{60, 300}, {900, 100}});
  ASSERT_TRUE(h.ok());
  for (int64_t t = 1000; t < 1000 + 400 * 60; t += 60)
    if ((t / 60) % 17 != 0) h->Add(t, 50 + 40 * std::sin(t / 600.0));
  auto back = History::DecodeSnapshot(h->EncodeSnapshot());
  ASSERT_TRUE(back.ok()) << back.error().message;
  for (size_t lvl = 0; lvl < 2; ++lvl) {
    auto a = h->Series(lvl), b = back->Series(lvl);
    ASSERT_EQ(a.start, b.start);
    ASSERT_EQ(a.values.size(), b.values.size());
    for (size_t i = 0; i < a.values.size(); ++i) {
      ASSERT_EQ(std::isnan(a.values[i]), std::isnan(b.values[i])) << i;
      if (!std::isnan(a.values[i])) {
        EXPECT_NEAR(a.values[i], b.values[i], 80.0 / 65534 + 1e-4);
      }
    }
  }
  // Continues to work after restore.
  back->Add(1000 + 401 * 60, 7);
  EXPECT_DOUBLE_EQ(back->Series(0).values.back(), 7);
}

TEST(History, SnapshotRejectsCorruptInput) {
  auto h = History::Create({{60, 50}});
  ASSERT_TRUE(h.ok());
  for (int i = 0; i < 50; ++i) h->Add(i * 60, i);
  std::string s = h->EncodeSnapshot();
  ASSERT_TRUE(History::DecodeSnapshot(s).ok());
  std::string flipped = s;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  auto r = History::DecodeSnapshot(flipped);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("checksum"), std::string::npos) << r.error().message;
  EXPECT_FALSE(History::DecodeSnapshot(s.substr(0, s.size() - 4)).ok());
  EXPECT_FALSE(History::DecodeSnapshot("!!!!").ok());
  EXPECT_FALSE(History::DecodeSnapshot("").ok());
  EXPECT_FALSE(History::DecodeSnapshot(Base64Encode("SCH1garbage-with-no-valid-crc")).ok());
}

TEST(Base64, RoundTripAllLengths) {
  std::string s;
  for (int i = 0; i < 20; ++i) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
    s += static_cast<char>(i * 37);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
}

}  // namespace
}  // namespace shardcast::predictor

#include "predictor/forecaster.h"
#include "predictor/parse.h"

namespace shardcast::predictor {
namespace {

TEST(History, BackfillFromQueryRangeCountersThenForecast) {
  // A request counter scraped every 60 s for 3 hours at 10 req/s, reset once.
  std::string json =
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"range":"12"},"values":[)";
  double counter = 0;
  for (int i = 0; i < 180; ++i) {
    if (i == 90) counter = 0;  // pod restart
    if (i) json += ",";
    json += "[" + std::to_string(1700000000 + i * 60) + ",\"" + std::to_string(counter) + "\"]";
    counter += 600;
  }
  json += "]}]}}";
  auto series = ParsePromQueryRange(json);
  ASSERT_TRUE(series.ok()) << series.error().message;
  auto rates = CounterToRate((*series)[0].samples);
  auto h = History::Create(DefaultResolutions());
  ASSERT_TRUE(h.ok());
  for (const auto& s : rates) h->Add(s.t, s.v);
  auto fine = h->Series(0);
  std::vector<double> tail(fine.values.end() - 179, fine.values.end());
  for (double v : tail) {
    ASSERT_FALSE(std::isnan(v));
    EXPECT_GE(v, 0.0);
  }
  ForecastConfig cfg;
  cfg.horizon = 10;
  auto f = Forecast(fine.values, cfg);  // leading gaps of the ring are dropped
  ASSERT_TRUE(f.ok()) << f.error().message;
  // The reset interval reads 0 req/s (counter restarted at 0); the forecast stays near 10.
  EXPECT_NEAR(f->p50[0], 10.0, 0.5);
}

}  // namespace
}  // namespace shardcast::predictor
