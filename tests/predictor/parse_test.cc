#include "predictor/parse.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shardcast::predictor {
namespace {

TEST(ParseTimestamp, UnixAndRfc3339) {
  EXPECT_EQ(ParseTimestamp("1700000000").value(), 1700000000);
  EXPECT_EQ(ParseTimestamp("1700000000.9").value(), 1700000000);
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(ParseTimestamp("2024-02-29T12:00:00Z").value(), 1709208000);
  EXPECT_EQ(ParseTimestamp("2024-02-29T14:00:00.123+02:00").value(), 1709208000);
  EXPECT_EQ(ParseTimestamp("2024-02-29 12:00:00").value(), 1709208000);
  EXPECT_FALSE(ParseTimestamp("2024-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseTimestamp("2024-01-01T00:00:00X").ok());
  EXPECT_FALSE(ParseTimestamp("yesterday").ok());
  EXPECT_FALSE(ParseTimestamp("").ok());
}

TEST(ParseCsv, HeaderCrlfCommentsAndValues) {
  auto r =
      ParseCsvSeries("timestamp,value\r\n# c\r\n1700000000,1.5\r\n\r\n2023-11-14T22:14:20Z,NaN\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].t, 1700000000);
  EXPECT_DOUBLE_EQ((*r)[0].v, 1.5);
  EXPECT_EQ((*r)[1].t, 1700000060);
  EXPECT_TRUE(std::isnan((*r)[1].v));
}

TEST(ParseCsv, ErrorsNameLineAndColumn) {
  auto r = ParseCsvSeries("timestamp,value\n1,2\n2,3\n3,abc\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line 4"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("column 2"), std::string::npos);
  auto t = ParseCsvSeries("timestamp,value\n1,2\nnope,3\n");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("line 3, column 1"), std::string::npos) << t.error().message;
  auto cols = ParseCsvSeries("t,v\n1,2,3\n");
  ASSERT_FALSE(cols.ok());
  EXPECT_NE(cols.error().message.find("line 2"), std::string::npos);
  EXPECT_FALSE(ParseCsvSeries("").ok());
  EXPECT_FALSE(ParseCsvSeries("timestamp,value\n").ok());
}

TEST(ParsePromText, SamplesLabelsEscapesSpecialValues) {
  const char* text =
      "# HELP shardcast_range_requests_total Requests.\n"
      "# TYPE shardcast_range_requests_total counter\n"
      "shardcast_range_requests_total{range=\"12\"} 12345\n"
      "m{a=\"x\\\"y\\\\z\\n\",b=\"\"} +Inf 1700000000000\n"
      "up NaN\n"
      "neg -1.5e3\n"
      "bad{ 1\n"
      "m2{a=\"1\",} 2\n";
  auto r = ParsePromText(text);
  ASSERT_EQ(r.samples.size(), 5u);
  EXPECT_EQ(r.samples[0].name, "shardcast_range_requests_total");
  EXPECT_EQ(r.samples[0].labels.at("range"), "12");
  EXPECT_DOUBLE_EQ(r.samples[0].value, 12345);
  EXPECT_EQ(r.samples[1].labels.at("a"), "x\"y\\z\n");
  EXPECT_EQ(r.samples[1].labels.at("b"), "");
  EXPECT_TRUE(std::isinf(r.samples[1].value));
  EXPECT_EQ(r.samples[1].timestamp_ms.value(), 1700000000000);
  EXPECT_TRUE(std::isnan(r.samples[2].value));
  EXPECT_DOUBLE_EQ(r.samples[3].value, -1500);
  EXPECT_EQ(r.samples[4].labels.at("a"), "1");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("line 7"), std::string::npos) << r.errors[0];
}

TEST(ParsePromText, SurvivesRandomGarbage) {
  std::mt19937 rng(7);
  const std::string alphabet = "a{}=\",\\ \n#\t09.eE+-_:NaInf\x01\xff";
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const int len = static_cast<int>(rng() % 80);
    for (int k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    auto r = ParsePromText(s, 3);
    EXPECT_LE(r.errors.size(), 4u);
    (void)ParseCsvSeries(s);
  }
}

TEST(ParsePromQueryRange, ParsesMatrixAndRejectsBadShapes) {
  auto r = ParsePromQueryRange(
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"kv-0"},"values":[[1700000000,"1.5"],[1700000060.5,"NaN"]]}]}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].labels.at("pod"), "kv-0");
  ASSERT_EQ((*r)[0].samples.size(), 2u);
  EXPECT_EQ((*r)[0].samples[1].t, 1700000060);
  auto bad = ParsePromQueryRange(R"({"status":"success","data":{"result":[{"values":[[1,2]]}]}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("values[0]"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(ParsePromQueryRange("{").ok());
  EXPECT_FALSE(ParsePromQueryRange(R"({"status":"error","error":"boom"})").ok());
}

}  // namespace
}  // namespace shardcast::predictor
