// ApplyPlan: the state after executing a plan's actions in order (what the
// executor's routing edits and the ShardSet controller's pod changes lead to).
#include <algorithm>
#include <cstdint>

#include "controllers/planner/planner.h"

namespace shardcast::planner {
namespace {

Pod* FindPod(ShardSetState& s, const std::string& n) {
  for (auto& p : s.pods) {
    if (p.name == n) return &p;
  }
  return nullptr;
}

Range* FindRange(ShardSetState& s, uint32_t id) {
  for (auto& r : s.ranges) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

Result<bool> ApplySplit(ShardSetState& s, Range* r, const Action& a, const std::string& f) {
  if (!r || !a.split_at || !a.other || *a.split_at <= r->start || *a.split_at > r->end) {
    return unexpected(Error{f + ".splitAt: outside the range"});
  }
  if (FindRange(s, *a.other)) return unexpected(Error{f + ".other: range id already used"});
  Range upper = *r;
  upper.id = *a.other;
  upper.start = *a.split_at;
  r->end = *a.split_at - 1;
  if (r->size_bytes) {
    upper.size_bytes = *r->size_bytes / 2;
    r->size_bytes = *r->size_bytes / 2;
  }
  s.ranges.push_back(upper);
  return true;
}

Result<bool> ApplyMerge(ShardSetState& s, Range* r, const Action& a, const std::string& f) {
  Range* b = a.other ? FindRange(s, *a.other) : nullptr;
  if (!r || !b || r->end == UINT32_MAX || r->end + 1 != b->start || r->owner != b->owner) {
    return unexpected(Error{f + ".other: not an adjacent range on the same owner"});
  }
  r->end = b->end;
  if (r->size_bytes && b->size_bytes) r->size_bytes = *r->size_bytes + *b->size_bytes;
  uint32_t gone = b->id;
  s.ranges.erase(std::remove_if(s.ranges.begin(), s.ranges.end(),
                                [&](const Range& x) { return x.id == gone; }),
                 s.ranges.end());
  return true;
}

// One action; `f` names it in errors ("actions[i]").
Result<bool> ApplyAction(ShardSetState& s, const Action& a, const std::string& f) {
  Range* r = a.range ? FindRange(s, *a.range) : nullptr;
  if (a.range && !r)
    return unexpected(Error{f + ".range: unknown range " + std::to_string(*a.range)});
  switch (a.type) {
    case ActionType::kPromote:
    case ActionType::kDemote: {
      Pod* p = FindPod(s, a.pod);
      if (!p) return unexpected(Error{f + ".pod: unknown pod " + a.pod});
      p->role = a.type == ActionType::kPromote ? PodRole::kActive : PodRole::kWarm;
      return true;
    }
    case ActionType::kScaleIn: {
      auto it =
          std::find_if(s.pods.begin(), s.pods.end(), [&](const Pod& p) { return p.name == a.pod; });
      if (it == s.pods.end()) return unexpected(Error{f + ".pod: unknown pod " + a.pod});
      s.pods.erase(it);
      return true;
    }
    case ActionType::kMove:
      if (!r || r->owner != a.from)
        return unexpected(Error{f + ".from: range not owned by " + a.from});
      if (!FindPod(s, a.to)) return unexpected(Error{f + ".to: unknown pod " + a.to});
      r->owner = a.to;
      // A move to an echo of the range (pre-warmed): it is no longer an echo.
      r->echoes.erase(std::remove(r->echoes.begin(), r->echoes.end(), a.to), r->echoes.end());
      return true;
    case ActionType::kAddEcho:
      if (!r || !FindPod(s, a.pod)) return unexpected(Error{f + ".pod: unknown pod " + a.pod});
      r->echoes.push_back(a.pod);
      return true;
    case ActionType::kRemoveEcho: {
      if (!r) return unexpected(Error{f + ".range: missing"});
      auto it = std::find(r->echoes.begin(), r->echoes.end(), a.pod);
      if (it == r->echoes.end()) return unexpected(Error{f + ".pod: not an echo of the range"});
      r->echoes.erase(it);
      return true;
    }
    case ActionType::kSplit:
      return ApplySplit(s, r, a, f);
    case ActionType::kMerge:
      return ApplyMerge(s, r, a, f);
  }
  return true;
}

}  // namespace

Result<ShardSetState> ApplyPlan(const ShardSetState& state, const Plan& plan) {
  ShardSetState s = state;
  for (std::size_t i = 0; i < plan.actions.size(); ++i) {
    auto ok = ApplyAction(s, plan.actions[i], "actions[" + std::to_string(i) + "]");
    if (!ok) return unexpected(ok.error());
  }
  return s;
}

}  // namespace shardcast::planner
