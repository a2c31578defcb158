// The kstatus conditions the operator's builders produce: for every fixture,
// Reconciling and Stalled are present and never both True, Stalled forces
// Ready=False, every condition carries observedGeneration, and the abnormal
// condition that is True matches the verdict the fixture expects.
#include "controllers/api/conditions.h"

#include <gtest/gtest.h>

#include "controllers/migrationpolicy/kstatus.h"
#include "tests/kstatus/fixtures.h"

namespace shardcast {
namespace {

using Json = nlohmann::json;

std::string Status(const Json& obj, const std::string& type) {
  for (const auto& c : obj["status"]["conditions"]) {
    if (c["type"] == type) return c["status"].get<std::string>();
  }
  return "";
}

TEST(KstatusConditions, EveryFixtureIsKstatusShaped) {
  auto all = kstatus_fixtures::All();
  ASSERT_GE(all.size(), 10u);
  for (const auto& f : all) {
    SCOPED_TRACE(f.name);
    const Json& obj = f.object;
    ASSERT_TRUE(obj.contains("status")) << obj.dump();
    const std::string rec = Status(obj, "Reconciling"), stalled = Status(obj, "Stalled");
    ASSERT_FALSE(rec.empty());
    ASSERT_FALSE(stalled.empty());
    EXPECT_FALSE(rec == "True" && stalled == "True");
    if (stalled == "True") {
      EXPECT_EQ(Status(obj, "Ready"), "False");
    }
    for (const auto& c : obj["status"]["conditions"]) {
      EXPECT_EQ(c["observedGeneration"], obj["status"]["observedGeneration"]) << c.dump();
      EXPECT_FALSE(c["reason"].get<std::string>().empty()) << c.dump();
    }
    bool ahead = obj["metadata"]["generation"] != obj["status"]["observedGeneration"];
    if (f.expected == "Failed") {
      EXPECT_EQ(stalled, "True");
    }
    if (f.expected == "Current") {
      EXPECT_EQ(rec, "False");
      EXPECT_EQ(stalled, "False");
      EXPECT_EQ(Status(obj, "Ready"), "True");
    }
    if (f.expected == "InProgress" && !ahead) {
      EXPECT_TRUE(rec == "True" || Status(obj, "Ready") != "True");
    }
  }
}

TEST(KstatusConditions, ApplyVerdictReplacesAndNeverLeavesBothTrue) {
  std::vector<migrationpolicy::Condition> conds = {{"Ready", "True", "Applied", "ok"}};
  api::ApplyVerdict(conds, {api::Verdict::State::kReconciling, "Working", "w"});
  api::ApplyVerdict(conds, {api::Verdict::State::kStalled, "Stuck", "s"});
  ASSERT_EQ(conds.size(), 3u);
  EXPECT_EQ(api::FindCondition(conds, "Reconciling")->status, "False");
  EXPECT_EQ(api::FindCondition(conds, "Stalled")->status, "True");
  EXPECT_EQ(api::FindCondition(conds, "Ready")->reason, "Stuck");
}

TEST(KstatusConditions, InvalidSpecIsRecordedOnlyForItsGeneration) {
  Json prev = {
      {"observedGeneration", 2},
      {"conditions", Json::array({{{"type", "Stalled"}, {"status", "True"}, {"message", "bad"}}})}};
  EXPECT_TRUE(migrationpolicy::InvalidSpecRecorded(prev, "bad", 2));
  EXPECT_FALSE(migrationpolicy::InvalidSpecRecorded(prev, "bad", 3));
  EXPECT_FALSE(migrationpolicy::InvalidSpecRecorded(prev, "other", 2));
  EXPECT_FALSE(migrationpolicy::InvalidSpecRecorded(Json::object(), "bad", 2));
}

}  // namespace
}  // namespace shardcast
