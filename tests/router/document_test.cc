#include "router/document.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/router/test_docs.h"

namespace shardcast::router {
namespace {

using nlohmann::json;
using testing::EvenJson;

std::string ErrorOf(const json& j) {
  auto d = ParseDocument(j.dump());
  return d ? std::string("OK") : d.error().message;
}

// The example of docs/routing.md, which covers only 3 of 64 ranges, is
// completed to full coverage here.
TEST(Document, ParsesTheDocsExampleShapeAndRoundTrips) {
  json j = EvenJson(4, 2, 7);
  j["ranges"][1]["state"] = "shadow";
  j["ranges"][1]["source"] = "kv-1";
  j["ranges"][1]["target"] = "kv-3";
  j["ranges"][1]["targetEndpoint"] = "10.66.0.2:8080";
  j["ranges"][1]["shadowFraction"] = 0.1;
  j["ranges"][2]["echoes"] = json::array({{{"pod", "kv-4"}, {"endpoint", "[fd00::1]:8080"}}});
  j["ranges"][3]["futureField"] = {{"x", 1}};
  j["futureTop"] = "kept";
  auto d = ParseDocument(j.dump());
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->epoch, 7u);
  EXPECT_EQ(d->ranges[1].state, RangeState::kShadow);
  EXPECT_EQ(*d->ranges[1].target_endpoint, "10.66.0.2:8080");
  EXPECT_DOUBLE_EQ(d->ranges[1].shadow_fraction, 0.1);
  ASSERT_EQ(d->ranges[2].echoes.size(), 1u);
  EXPECT_EQ(d->ranges[2].echoes[0].pod, "kv-4");
  auto again = ParseDocument(SerializeDocument(*d));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *d);
  json out = DocumentToJson(*d);
  EXPECT_EQ(out["futureTop"], "kept");
  EXPECT_EQ(out["ranges"][3]["futureField"]["x"], 1);
  EXPECT_TRUE(out["ranges"][0]["source"].is_null());
}

TEST(Document, RejectsTopLevelFieldsByName) {
  EXPECT_EQ(ErrorOf(json::array()), "routing.json: must be a JSON object");
  EXPECT_EQ(ParseDocument("{").error().message, "routing.json: is not valid JSON");
  json j = EvenJson(4, 2, 1);
  j["schemaVersion"] = 2;
  EXPECT_EQ(ErrorOf(j), "schemaVersion: must be 1 (got 2)");
  j = EvenJson(4, 2, 1);
  j.erase("schemaVersion");
  EXPECT_EQ(ErrorOf(j), "schemaVersion: is required");
  j = EvenJson(4, 2, 1);
  j["hash"] = "crc32";
  EXPECT_EQ(ErrorOf(j), "hash: must be \"fnv1a64-high32\"");
  j = EvenJson(4, 2, 1);
  j["epoch"] = -1;
  EXPECT_EQ(ErrorOf(j), "epoch: must be an integer in [0, 18446744073709551615]");
  j = EvenJson(4, 2, 1);
  j["epoch"] = 1.5;
  EXPECT_NE(ErrorOf(j).find("epoch:"), std::string::npos);
  j = EvenJson(4, 2, 1);
  j["shardSet"] = "";
  EXPECT_EQ(ErrorOf(j).rfind("shardSet:", 0), 0u);
  j = EvenJson(4, 2, 1);
  j["ranges"] = json::array();
  EXPECT_EQ(ErrorOf(j), "ranges: must be a non-empty list");
}

TEST(Document, RejectsRangeFieldsByName) {
  json j = EvenJson(4, 2, 1);
  j["ranges"][3]["owner"] = "";
  EXPECT_EQ(ErrorOf(j), "ranges[3].owner: must be a non-empty string");
  j = EvenJson(4, 2, 1);
  j["ranges"][2].erase("owner");
  EXPECT_EQ(ErrorOf(j), "ranges[2].owner: is required");
  j = EvenJson(4, 2, 1);
  j["ranges"][1]["owner"] = "Bad_Name";
  EXPECT_EQ(ErrorOf(j), "ranges[1].owner: must be a pod name");
  j = EvenJson(4, 2, 1);
  j["ranges"][1]["endpoint"] = "10.0.0.1";
  EXPECT_EQ(ErrorOf(j), "ranges[1].endpoint: must be host:port or empty");
  j = EvenJson(4, 2, 1);
  j["ranges"][1]["endpoint"] = "";
  EXPECT_EQ(ErrorOf(j), "OK");  // no IP yet: allowed
  j = EvenJson(4, 2, 1);
  j["ranges"][0]["state"] = "moving";
  EXPECT_EQ(ErrorOf(j),
            "ranges[0].state: must be one of stable, migrating, shadow (got \"moving\")");
  j = EvenJson(4, 2, 1);
  j["ranges"][0]["id"] = 4096;
  EXPECT_EQ(ErrorOf(j), "ranges[0].id: must be an integer in [0, 4095]");
  j = EvenJson(4, 2, 1);
  j["ranges"][0]["start"] = 4294967296;
  EXPECT_EQ(ErrorOf(j), "ranges[0].start: must be an integer in [0, 4294967295]");
  j = EvenJson(4, 2, 1);
  j["ranges"][2]["echoes"] = json::array({{{"pod", "kv-9"}}});
  EXPECT_EQ(ErrorOf(j), "ranges[2].echoes[0].endpoint: is required");
  j = EvenJson(4, 2, 1);
  j["ranges"][2]["echoes"] = json::array({{{"pod", "kv-0"}, {"endpoint", ""}}});
  EXPECT_EQ(ErrorOf(j), "ranges[2].echoes[0].pod: must differ from owner");
}

TEST(Document, RejectsCoverageGapsOverlapsOrderAndDuplicates) {
  json j = EvenJson(4, 2, 1);
  j["ranges"][1]["start"] = j["ranges"][1]["start"].get<uint32_t>() + 1;
  EXPECT_NE(ErrorOf(j).find("ranges[1].start: is 1073741825, expected 1073741824 (gap)"),
            std::string::npos);
  j = EvenJson(4, 2, 1);
  j["ranges"][0]["end"] = 1073741824;
  EXPECT_NE(ErrorOf(j).find("(overlap or not sorted by start)"), std::string::npos);
  j = EvenJson(4, 2, 1);
  std::swap(j["ranges"][1], j["ranges"][2]);
  EXPECT_EQ(ErrorOf(j).rfind("ranges[1].start:", 0), 0u);
  j = EvenJson(4, 2, 1);
  j["ranges"][3]["end"] = 4294967294;
  EXPECT_EQ(ErrorOf(j), "ranges: must cover up to 4294967295 (last end is 4294967294)");
  j = EvenJson(4, 2, 1);
  j["ranges"][2]["id"] = 0;
  EXPECT_EQ(ErrorOf(j), "ranges[2].id: duplicate range id 0");
  j = EvenJson(4, 2, 1);
  j["ranges"][1]["end"] = 5;
  EXPECT_EQ(ErrorOf(j), "ranges[1].end: must be >= start");
}

TEST(Document, RejectsInconsistentMoves) {
  auto moving = [](const char* state) {
    json j = EvenJson(4, 2, 1);
    j["ranges"][1]["state"] = state;
    j["ranges"][1]["source"] = "kv-1";
    j["ranges"][1]["target"] = "kv-2";
    return j;
  };
  EXPECT_EQ(ErrorOf(moving("migrating")), "OK");
  json j = moving("migrating");
  j["ranges"][1]["source"] = "kv-0";
  EXPECT_EQ(ErrorOf(j), "ranges[1].source: must equal owner \"kv-1\" when state is migrating");
  j = moving("shadow");
  j["ranges"][1]["target"] = "kv-1";
  EXPECT_EQ(ErrorOf(j), "ranges[1].target: must differ from owner");
  j = moving("shadow");
  j["ranges"][1].erase("target");
  EXPECT_EQ(ErrorOf(j), "ranges[1].target: must be a pod name when state is shadow");
  j = moving("shadow");
  j["ranges"][1]["shadowFraction"] = 1.5;
  EXPECT_EQ(ErrorOf(j), "ranges[1].shadowFraction: must be a number in [0, 1]");
  j = moving("migrating");
  j["ranges"][1]["shadowFraction"] = 0.5;
  EXPECT_EQ(ErrorOf(j), "ranges[1].shadowFraction: must be 0 unless state is shadow");
  j = EvenJson(4, 2, 1);
  j["ranges"][1]["target"] = "kv-3";
  EXPECT_EQ(ErrorOf(j), "ranges[1].target: must be null when state is stable");
  j = moving("shadow");
  j["ranges"][1]["shadowFraction"] = "0.1";
  EXPECT_EQ(ErrorOf(j), "ranges[1].shadowFraction: must be a number in [0, 1]");
}

TEST(Document, EndpointAndPodNameRules) {
  EXPECT_TRUE(IsValidEndpoint("10.1.2.3:6379"));
  EXPECT_TRUE(IsValidEndpoint("[fd00::1]:6379"));
  EXPECT_TRUE(IsValidEndpoint("redis-0.kv:6379"));
  EXPECT_TRUE(IsValidEndpoint(""));
  EXPECT_FALSE(IsValidEndpoint("fd00::1:6379"));
  EXPECT_FALSE(IsValidEndpoint(":6379"));
  EXPECT_FALSE(IsValidEndpoint("a:0"));
  EXPECT_FALSE(IsValidEndpoint("a:65536"));
  EXPECT_FALSE(IsValidEndpoint("a:12x"));
  EXPECT_FALSE(IsValidEndpoint("[zz]:1"));
  EXPECT_TRUE(IsValidPodName("kv-0"));
  EXPECT_FALSE(IsValidPodName("-kv"));
  EXPECT_FALSE(IsValidPodName("kv-"));
  EXPECT_FALSE(IsValidPodName("KV"));
}

TEST(Document, EvenRangesMatchTheDocsFormula) {
  auto r = EvenRanges(256);
  ASSERT_EQ(r.size(), 256u);
  EXPECT_EQ(r[0].end, 16777215u);
  EXPECT_EQ(r[255].end, 4294967295u);
  auto three = EvenRanges(3);
  EXPECT_EQ(three[1].start, 1431655765u);  // floor(2^32 / 3)
}

}  // namespace
}  // namespace shardcast::router
