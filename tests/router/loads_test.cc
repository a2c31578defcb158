// The published load factors: the parser and the holder the workers copy.
#include "router/proxy/loads.h"

#include <gtest/gtest.h>

namespace shardcast::router::proxy {
namespace {

TEST(ParseLoadFactors, ReadsThePodsAndClampsToTheDocumentedBounds) {
  auto f = ParseLoadFactors(
      R"({"generatedAt": "2026-12-02T10:00:00Z", "future": [1],
          "pods": {"kv-0": 0.72, "kv-1": 1, "kv-2": 0.001, "kv-3": 1e9}})");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(*f, (LoadFactors{{"kv-0", 0.72}, {"kv-1", 1.0}, {"kv-2", 0.05}, {"kv-3", 20.0}}));
  auto empty = ParseLoadFactors(R"({"pods": {}})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(ParseLoadFactors, ErrorsNameTheField) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"", "loads.json: not valid JSON"},
      {"[1]", "loads.json: must be an object"},
      {"{}", "pods: missing"},
      {R"({"pods": [1]})", "pods: must be an object"},
      {R"({"pods": {"kv-0": "1"}})", "pods[\"kv-0\"]: must be a number"},
      {R"({"pods": {"kv-0": 1, "kv-1": 0}})", "pods[\"kv-1\"]: must be a positive number"},
      {R"({"pods": {"kv-0": -2}})", "pods[\"kv-0\"]: must be a positive number"},
      {R"({"pods": {"": 1}})", "pods: a pod name is empty"},
      {R"({"generatedAt": 5, "pods": {}})", "generatedAt: must be a string"},
  };
  for (const auto& c : cases) {
    auto f = ParseLoadFactors(c.text);
    ASSERT_FALSE(f) << c.text;
    EXPECT_EQ(f.error().message, c.error) << c.text;
  }
}

TEST(LoadFactorsHolder, KeepsTheLastGoodFactorsAndSkipsIdenticalOnes) {
  LoadFactorsHolder h;
  EXPECT_EQ(h.version(), 0u);
  EXPECT_TRUE(h.Get().empty());  // absent: every pod counts 1
  EXPECT_EQ(h.Update(R"({"pods": {"kv-0": 4}})").outcome, UpdateOutcome::kApplied);
  EXPECT_EQ(h.version(), 1u);
  UpdateResult bad = h.Update(R"({"pods": {"kv-0": null}})");
  EXPECT_EQ(bad.outcome, UpdateOutcome::kRejectedInvalid);
  EXPECT_EQ(bad.error, "pods[\"kv-0\"]: must be a number");
  EXPECT_EQ(h.Get(), (LoadFactors{{"kv-0", 4.0}}));
  EXPECT_EQ(h.Update(R"({"generatedAt": "later", "pods": {"kv-0": 4}})").outcome,
            UpdateOutcome::kIgnoredNotNewer);
  EXPECT_EQ(h.version(), 1u);
  EXPECT_EQ(h.Update(R"({"pods": {"kv-0": 0.25}})").outcome, UpdateOutcome::kApplied);
  EXPECT_EQ(h.version(), 2u);
  EXPECT_EQ(h.Get(), (LoadFactors{{"kv-0", 0.25}}));
}

// The factors steer ReadDestination the way the proxy's workers use them.
TEST(LoadFactorsHolder, FactorsShiftReadsTowardTheLessLoadedPod) {
  Range r;
  r.id = 1;
  r.owner = "kv-0";
  r.endpoint = "10.0.0.1:6379";
  Echo e;
  e.pod = "kv-1";
  e.endpoint = "10.0.0.2:6379";
  r.echoes.push_back(e);
  LoadFactorsHolder h;
  LoadFactors f = h.Get();
  auto view = [&f] {
    return LoadView{[](const std::string&) { return std::uint64_t{0}; },
                    [&f](const std::string& pod) {
                      auto it = f.find(pod);
                      return it == f.end() ? 1.0 : it->second;
                    },
                    nullptr};
  };
  EXPECT_EQ(ReadDestination(r, nullptr, view()).pod, "kv-0");  // ties go to the owner
  ASSERT_EQ(h.Update(R"({"pods": {"kv-0": 4, "kv-1": 0.25}})").outcome, UpdateOutcome::kApplied);
  f = h.Get();
  Destination d = ReadDestination(r, nullptr, view());
  EXPECT_EQ(d.pod, "kv-1");
  EXPECT_TRUE(d.echo);
}

}  // namespace
}  // namespace shardcast::router::proxy
