#include "util/label_selector.h"

namespace shardcast::util {

using Json = nlohmann::json;

namespace {

Result<void> ParseExpression(const Json& e, const std::string& fi, std::string* key,
                             std::string* op, std::set<std::string>* values) {
  if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) {
    return unexpected(Error{fi + ".key: required string"});
  }
  *key = e["key"].get<std::string>();
  *op = e.contains("operator") && e["operator"].is_string() ? e["operator"].get<std::string>() : "";
  if (e.contains("values") && !e["values"].is_null()) {
    if (!e["values"].is_array())
      return unexpected(Error{fi + ".values: must be a list of strings"});
    for (const auto& v : e["values"]) {
      if (!v.is_string()) return unexpected(Error{fi + ".values: must be a list of strings"});
      values->insert(v.get<std::string>());
    }
  }
  return {};
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(const Json& selector, const std::string& f) {
  LabelSelector out;
  if (selector.is_null()) return out;
  if (!selector.is_object()) return unexpected(Error{f + ": must be an object"});
  if (selector.contains("matchLabels") && !selector["matchLabels"].is_null()) {
    const Json& ml = selector["matchLabels"];
    if (!ml.is_object()) return unexpected(Error{f + ".matchLabels: must be a map of strings"});
    for (auto it = ml.begin(); it != ml.end(); ++it) {
      if (!it.value().is_string()) {
        return unexpected(Error{f + ".matchLabels." + it.key() + ": must be a string"});
      }
      out.requirements_.push_back({it.key(), Op::kIn, {it.value().get<std::string>()}});
    }
  }
  if (selector.contains("matchExpressions") && !selector["matchExpressions"].is_null()) {
    const Json& me = selector["matchExpressions"];
    if (!me.is_array()) return unexpected(Error{f + ".matchExpressions: must be a list"});
    for (size_t i = 0; i < me.size(); ++i) {
      std::string fi = f + ".matchExpressions[" + std::to_string(i) + "]";
      Requirement r;
      std::string op;
      if (auto ok = ParseExpression(me[i], fi, &r.key, &op, &r.values); !ok) {
        return unexpected(ok.error());
      }
      if (op == "In" || op == "NotIn") {
        if (r.values.empty()) return unexpected(Error{fi + ".values: must be non-empty for " + op});
        r.op = op == "In" ? Op::kIn : Op::kNotIn;
      } else if (op == "Exists" || op == "DoesNotExist") {
        if (!r.values.empty()) return unexpected(Error{fi + ".values: must be empty for " + op});
        r.op = op == "Exists" ? Op::kExists : Op::kDoesNotExist;
      } else {
        return unexpected(
            Error{fi + ".operator: must be In, NotIn, Exists or DoesNotExist, got \"" + op + "\""});
      }
      out.requirements_.push_back(std::move(r));
    }
  }
  return out;
}

bool LabelSelector::Matches(const Labels& labels) const {
  for (const auto& r : requirements_) {
    auto l = labels.find(r.key);
    bool has = l != labels.end();
    bool in = has && r.values.count(l->second) > 0;
    switch (r.op) {
      case Op::kIn:
        if (!in) return false;
        break;
      case Op::kNotIn:
        if (in) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

Labels LabelsOf(const Json& obj) {
  Labels out;
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return out;
  const Json& md = obj["metadata"];
  if (!md.contains("labels") || !md["labels"].is_object()) return out;
  for (auto it = md["labels"].begin(); it != md["labels"].end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

}  // namespace shardcast::util
