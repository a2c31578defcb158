// metav1.LabelSelector semantics (tests moved from the MigrationPolicy and
// forecast controllers, which now share util::LabelSelector).
#include "util/label_selector.h"

#include <gtest/gtest.h>

namespace shardcast::util {
namespace {

using Json = nlohmann::json;

// The selector's answer, or its parse error.
Result<bool> SelectorMatches(const Json& selector, const Labels& labels) {
  auto s = LabelSelector::Parse(selector, "spec.shardSetSelector");
  if (!s) return unexpected(s.error());
  return s->Matches(labels);
}

// As the forecast controller asked: labels as JSON, malformed = no match.
bool Selects(const Json& selector, const Json& labels) {
  auto m = SelectorMatches(selector, LabelsOf(Json{{"metadata", {{"labels", labels}}}}));
  return m && *m;
}

TEST(Selector, MatchLabelsAndExpressions) {
  Labels l = {{"tier", "kv"}, {"env", "prod"}};
  EXPECT_TRUE(*SelectorMatches(Json::object(), l));
  EXPECT_TRUE(*SelectorMatches(Json::parse(R"({"matchLabels":{"tier":"kv"}})"), l));
  EXPECT_FALSE(*SelectorMatches(Json::parse(R"({"matchLabels":{"tier":"db"}})"), l));
  EXPECT_TRUE(*SelectorMatches(
      Json::parse(R"({"matchExpressions":[{"key":"env","operator":"In","values":["prod","qa"]}]})"),
      l));
  EXPECT_FALSE(*SelectorMatches(
      Json::parse(R"({"matchExpressions":[{"key":"env","operator":"NotIn","values":["prod"]}]})"),
      l));
  EXPECT_FALSE(*SelectorMatches(
      Json::parse(R"({"matchExpressions":[{"key":"x","operator":"Exists"}]})"), l));
  EXPECT_TRUE(*SelectorMatches(
      Json::parse(R"({"matchExpressions":[{"key":"x","operator":"DoesNotExist"}]})"), l));
  EXPECT_FALSE(
      SelectorMatches(Json::parse(R"({"matchExpressions":[{"key":"x","operator":"In"}]})"), l));
}

TEST(LabelSelector, ForecastCases) {
  // A malformed selector selects nothing.
  Json labels = {{"app", "kv"}, {"tier", "gold"}};
  EXPECT_TRUE(Selects(Json::object(), labels));
  EXPECT_TRUE(Selects(Json{{"matchLabels", {{"app", "kv"}}}}, labels));
  EXPECT_FALSE(Selects(Json{{"matchLabels", {{"app", "db"}}}}, labels));
  Json expr =
      Json::parse(R"({"matchExpressions":[{"key":"tier","operator":"In","values":["gold","silver"]},
                                                   {"key":"zone","operator":"DoesNotExist"}]})");
  EXPECT_TRUE(Selects(expr, labels));
  expr["matchExpressions"][0]["operator"] = "NotIn";
  EXPECT_FALSE(Selects(expr, labels));
  expr["matchExpressions"][0]["operator"] = "Bogus";
  EXPECT_FALSE(Selects(expr, labels));
}

TEST(LabelSelector, MissingSelectsEverythingAndErrorsNameTheField) {
  EXPECT_TRUE(*SelectorMatches(Json(), {{"a", "b"}}));
  auto bad = SelectorMatches(Json::parse(R"({"matchLabels":{"a":1}})"), {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "spec.shardSetSelector.matchLabels.a: must be a string");
  bad = SelectorMatches(
      Json::parse(R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})"), {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("matchExpressions[0].values"), std::string::npos);
}

}  // namespace
}  // namespace shardcast::util
