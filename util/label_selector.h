// metav1.LabelSelector, parsed once: matchLabels and matchExpressions (In,
// NotIn, Exists, DoesNotExist), all of which must hold. A missing (null) or
// empty selector selects everything. Pure; errors name the field.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "util/expected.h"

namespace shardcast::util {

using Labels = std::map<std::string, std::string>;

class LabelSelector {
 public:
  // `field` names the selector in errors ("spec.shardSetSelector.matchLabels.app: ...").
  [[nodiscard]] static Result<LabelSelector> Parse(const nlohmann::json& selector,
                                                   const std::string& field);
  bool Matches(const Labels& labels) const;
  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op = Op::kIn;
    std::set<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

// metadata.labels of an object (string values only; {} when absent).
Labels LabelsOf(const nlohmann::json& obj);

}  // namespace shardcast::util
