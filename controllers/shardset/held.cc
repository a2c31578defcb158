// Pods an unfinished MigrationPolicy action still needs (pure): a scale-in
// victim or an excess warm pod is deleted, with its claims, only once no
// action in flight names it. The executor reverts a move whose verification
// fails by moving the range back to its source, which must still exist.
// A ScaleIn action is the exception: it names the pod it drains and waits for
// exactly that deletion, so holding its own pod would stall it until its
// phase timeout (seen in bench/e2e: every live scale-in stuck in Verifying).
#include <algorithm>
#include <initializer_list>

#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {

namespace {

// Calls fn(action) for each unfinished action (not Completed, Reverted or
// Failed) of set `set` in the policy's status.actions, in order. Tolerant:
// malformed entries are skipped.
template <typename Fn>
void ForEachUnfinished(const Json& policy, const std::string& set, Fn fn) {
  if (!policy.is_object() || !policy.contains("status") || !policy["status"].is_object()) return;
  const Json& st = policy["status"];
  if (!st.contains("actions") || !st["actions"].is_array()) return;
  for (const auto& a : st["actions"]) {
    if (!a.is_object() || a.value("shardSet", Json()) != set) continue;
    const Json phase = a.value("phase", Json());
    if (phase == "Completed" || phase == "Reverted" || phase == "Failed") continue;
    fn(a);
  }
}

// The `field` pods of the unfinished actions of set `set` whose type is one
// of `types`, in order, once each.
void AddNamed(const Json& policy, const std::string& set, std::initializer_list<const char*> types,
              const char* field, std::vector<std::string>& pods) {
  ForEachUnfinished(policy, set, [&](const Json& a) {
    const Json type = a.value("type", Json());
    if (std::none_of(types.begin(), types.end(), [&](const char* t) { return type == t; })) return;
    if (!a.contains(field) || !a[field].is_string()) return;
    const std::string& pod = a[field].get_ref<const std::string&>();
    if (!pod.empty() && std::find(pods.begin(), pods.end(), pod) == pods.end()) pods.push_back(pod);
  });
}

}  // namespace

void AddHeldPods(const Json& policy, const std::string& set,
                 std::map<std::string, std::string>& held) {
  const std::string name =
      policy.is_object() && policy.contains("metadata") && policy["metadata"].is_object()
          ? policy["metadata"].value("name", std::string())
          : std::string();
  ForEachUnfinished(policy, set, [&](const Json& a) {
    if (a.value("type", Json()) == "ScaleIn") return;
    std::string id = a.value("id", Json()).is_string() ? a["id"].get<std::string>() : "?";
    if (!name.empty()) id += " (MigrationPolicy " + name + ")";
    for (const char* role : {"source", "target"}) {
      if (!a.contains(role) || !a[role].is_string() || a[role].get<std::string>().empty()) continue;
      held.emplace(a[role].get<std::string>(), id);
    }
  });
}

void AddPromotions(const Json& policy, const std::string& set, std::vector<std::string>& pods) {
  AddNamed(policy, set, {"Promote"}, "target", pods);
}

void AddScaleIns(const Json& policy, const std::string& set, std::vector<std::string>& pods) {
  AddNamed(policy, set, {"ScaleIn", "Demote"}, "source", pods);
}

}  // namespace shardcast::shardset
