// Internal to controllers/planner: the working state of one MakePlan call and
// the stages that share it. Not part of the public API (planner.h).
//
//   validate.cc     Validate: every input field checked, errors name it
//   load_model.cc   Index, ComputeLoads, ComputeBudget: predicted load per
//                   range and pod, and the shares owner and echoes carry
//   relieve.cc      Relieve: hot pods, giant ranges (AddEcho / Split), moves
//   prewarm.cc      Prewarm: echoes onto the warm pod a due promotion takes
//   move.cc         PickTarget, TryPromote, MoveRange: one move or promotion
//   consolidate.cc  RemoveEchoes, Merges, ScaleIn
//   event_capacity.cc  CheckEventCapacity: declared events against maxReplicas
//   report.cc       Allowed (windows, blackouts), the pod table, the plan id
//   apply.cc        ApplyPlan
//   planner.cc      MakePlan, MovementLowerBound, Planner::Run
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "controllers/planner/placement.h"
#include "controllers/planner/planner.h"

namespace shardcast::planner::internal {

std::string Pct(double u);   // 0.834 -> "83%"
std::string Secs(double s);  // 12.4 -> "12s"
std::string Num(double v, const char* fmt = "%.2f");

// How many rounds `moves` moves take when `concurrent` run at a time (at
// least one a round).
inline std::size_t MoveWaves(std::size_t moves, int concurrent) {
  const std::size_t c = concurrent > 1 ? static_cast<std::size_t>(concurrent) : 1;
  return (moves + c - 1) / c;
}

// Whether `pod` holds an echo of range `r`.
inline bool EchoesOn(const Range& r, const std::string& pod) {
  return std::find(r.echoes.begin(), r.echoes.end(), pod) != r.echoes.end();
}

// Every field of the input, in the order the errors are reported.
[[nodiscard]] Result<bool> Validate(const PlanInput& in);

// One pod as the plan so far leaves it (index = position in state.pods).
struct PodModel {
  const SeriesForecast* forecast = nullptr;  // the pod's forecast, if any
  bool trusted = false;                      // trusted and not low confidence
  bool low_conf = false;                     // trusted, but its band is too wide to act on
  double event_ttc = -1;                     // >= 0: a declared event raises its load then
  double prob = 0;                           // P(exceed) the planner acts on
  double load = 0;                           // predicted load, updated as actions commit
  double load_before = 0;                    // predicted load before the plan
  double observed = 0;                       // observed load
  std::size_t moves_in = 0;                  // moves the plan sends to this pod
  std::size_t ranges = 0;                    // ranges owned, as the plan so far leaves them
  bool hot = false;                          // relieved (or drained): never a receiver
  // Range indices this pod owned before the plan, plus split halves it keeps.
  // Ranges only leave, so OwnedRanges filters this by the current owner.
  std::vector<std::size_t> owned;
};

// One range (index = position in the evolving state.ranges).
struct RangeModel {
  double load = 0;  // predicted total load
  double observed = 0;
  std::size_t initial_owner = 0;  // pod index before the plan
  double base = 0;                // predicted total load before declared events
};

// A range a hot pod may move: its index, the share it takes off the pod,
// and its migration score.
struct MoveCandidate {
  std::size_t r;
  double share, score;
};

// Indices into `cands` of the fewest ranges (at most `budget_k`, the fewest
// that can cover) covering `excess`, preferring the order of `cands`
// (highest score first); marks them in `used`.
std::vector<std::size_t> ChooseFewest(const std::vector<MoveCandidate>& cands, double excess,
                                      std::size_t budget_k, std::vector<bool>& used);

// A pod the planner must relieve.
struct HotPod {
  std::size_t pod;
  double ttc;     // seconds to the predicted crossing (0 = now)
  double excess;  // predicted load over targetUtilization
  std::size_t kmin;
  bool due = false;
  bool event = false;  // ttc is a declared event's start: due a lead time earlier
  double within = 0;   // due when ttc <= within (MarkDue)
  double needed = 0;   // the lead its moves (and a promotion) take (MarkDue)
};

class Planner {
 public:
  explicit Planner(const PlanInput& in) : in_(in), pol_(in.policy), st_(in.state) {}

  Result<Plan> Run();

 private:
  // ---- load_model.cc ----
  void Index();
  void ComputeLoads();
  void LoadPodForecasts();
  void LoadRangeForecasts(std::vector<bool>& known);
  void ShareUnforecastLoad(const std::vector<bool>& known);
  void ApplyRangeEvents();
  // Whether a declared event applies its multiplier to range index r here.
  bool EventScales(const RangeEvent& ev, std::size_t r) const;

  // ---- event_capacity.cc ----
  // Declared events not yet over whose load needs more than maxReplicas pods.
  void CheckEventCapacity();
  void SumPodLoads(const std::vector<bool>& known);
  void ComputeBudget();

  double Cap(std::size_t p) const { return st_.pods[p].capacity; }
  double Util(std::size_t p) const { return pods_[p].load / Cap(p); }
  bool Active(std::size_t p) const { return st_.pods[p].role == PodRole::kActive; }
  const std::string& Name(std::size_t p) const { return st_.pods[p].name; }
  // Whether range `id` was acted on (any action, echoes included) within the
  // cooldown.
  bool RangeCooling(uint32_t id) const;
  // Whether `key`'s last action in `last` is within the cooldown.
  template <class K>
  bool Cooling(const std::map<K, int64_t>& last, const K& key) const {
    auto it = last.find(key);
    return it != last.end() && in_.now - it->second < pol_.cooldown_seconds;
  }
  bool PodCooling(const std::string& name) const;
  double ReadFraction(const Range& r) const;
  // Load the owner of range index ri carries with `echoes` echoes, and each
  // echo (its reads and keeping in sync: OwnerPart, EchoPart).
  double OwnerShare(std::size_t ri, std::size_t echoes) const;
  double EchoShare(std::size_t ri, std::size_t echoes) const;
  double OwnerPart(double load, double read_fraction, std::size_t echoes) const;
  double EchoPart(double load, double read_fraction, std::size_t echoes) const;
  // Echo `pod` of range ri leaves it (removed, or the range's new owner):
  // the other echoes split the reads one way fewer. The owner's and `pod`'s
  // own loads are the caller's, computed before (the shares depend on the
  // echo count).
  void DropEcho(std::size_t ri, const std::string& pod);
  // What range ri's owner carries more when one of its echoes goes (less,
  // when the echo's sync cost it more than the reads it shed).
  double OwnerGainWithoutAnEcho(std::size_t ri) const;
  // The ShardSet controller's bounded-load limit on ranges per pod.
  std::size_t RangeBound() const;
  // Ranges currently owned by pod p.
  std::vector<std::size_t> OwnedRanges(std::size_t p) const;
  bool Giant(std::size_t r) const;
  bool Movable(std::size_t r) const;
  int ActiveCount() const;
  // Fewest ranges (largest first) whose shares cover `excess`.
  static std::size_t MinCount(std::vector<double> shares, double excess);

  // ---- move.cc ----
  // Best receiver for `load` under targetUtilization (weighted score), or -1.
  long PickTarget(double load, std::size_t exclude, const Range* range) const;
  // Promotes a ready warm pod (WarmPodFor the pod being relieved, else
  // NextWarmPod), if allowed. Its index or -1.
  // Weighed when relieving a hot pod (PromotionWorthIt).
  long TryPromote(std::string& why, const std::string& for_what);
  // The next warm pod: ready, out of cooldown, lowest ordinal, not in
  // `skip`; -1 if none. A Promote names its pod and the ShardSet controller
  // promotes that one.
  long NextWarmPod(const std::set<std::size_t>& skip = {}) const;
  // The warm pod that pre-warms (and is promoted for) hot pod `hot`: the
  // ready one out of cooldown already holding echoes of its ranges, else
  // the next warm pod holding none of another pod's; -1 when none.
  long WarmPodFor(std::size_t hot) const;
  // Pod t's load once it owns every range it echoes.
  double LoadAsOwner(std::size_t t) const;
  // An echo of range ri on a ready active pod that can take the range over
  // under targetUtilization (a pre-warmed receiver: the move only catches
  // up); -1 if none.
  long EchoReceiver(std::size_t ri, std::size_t from) const;
  // Whether some echo of range ri is on a pod other than `owner` that may
  // receive it (not hot): moving it there is a catch-up.
  bool Prewarmed(std::size_t ri) const;
  bool PromotionWorthIt(const HotPod& h, std::string& why);
  // A Move of range ri to a chosen target; false if blocked (finding recorded).
  bool MoveRange(std::size_t ri, const std::string& why, double score, bool allow_promote);
  PodEffect EffectOf(std::size_t p, double load_before) const;
  void Commit(Action a) { plan_.actions.push_back(std::move(a)); }

  // ---- relieve.cc ----
  void Relieve();
  bool ConfirmedOver(std::size_t p, double obs_u);
  std::vector<HotPod> FindHotPods(bool* promotion_needed);
  void MarkDue(std::vector<HotPod>& hot, bool promotion_needed);
  void RelieveGiant(const HotPod& h, std::size_t r);
  // Whether one more echo of range r lowers its owner's load (the reads it
  // sheds outweigh the sync it costs the owner).
  bool EchoSheds(std::size_t r) const;
  bool AddEcho(const HotPod& h, std::size_t r, const std::string& why);
  // Commits an AddEcho of range r (owned by h) onto pod t.
  void CommitEcho(const HotPod& h, std::size_t r, std::size_t t, const std::string& reason);
  // prewarm.cc: echoes onto the next warm pod the ranges a hot pod, not yet
  // due but due within one more lead time, would move to it once promoted.
  void Prewarm(const HotPod& h, bool promotion_needed);
  // The ranges of h that may move, with their shares and migration scores
  // (P(hot) x benefit / cost; a pre-warmed range costs a tenth), highest
  // score first.
  std::vector<MoveCandidate> MoveCandidates(const HotPod& h, double excess) const;
  // Hot read-heavy ranges of a due pod get an echo instead of a move.
  void EchoHotReads(const HotPod& h);
  // A due pod's echoes of other pods' ranges are removed first, largest
  // share first, while it is above target and each owner stays under it.
  void ShedEchoes(const HotPod& h);
  void SplitRange(const HotPod& h, std::size_t r);
  void MoveOff(const HotPod& h);

  // ---- consolidate.cc ----
  void RemoveEchoes();
  // Commits a RemoveEcho of range ri's echo on `pod`: the owner takes its
  // reads back, the others split them one way fewer.
  void CommitRemoveEcho(std::size_t ri, const std::string& pod, const std::string& reason);
  void Merges();
  void ScaleIn();
  std::vector<std::size_t> NextVictims(const std::vector<PodLoad>& cands, std::size_t v, double obs,
                                       double pred, double cap, int active) const;
  void DrainAndRemove(std::size_t v, const std::vector<std::size_t>& next, double mean_obs,
                      int64_t low_for, int warm);

  // ---- report.cc ----
  bool Allowed(std::string& why) const;
  void Report(bool allowed, const std::string& why);

  const PlanInput& in_;
  const Policy& pol_;
  ShardSetState st_;  // evolves as actions are committed
  Plan plan_;

  std::unordered_map<std::string, std::size_t> pod_idx_;
  std::unordered_map<uint32_t, std::size_t> range_idx_;
  std::vector<PodModel> pods_;
  std::vector<RangeModel> ranges_;
  double mean_size_ = 1;
  double max_ready_capacity_ = 0;
  int budget_ = 0;
  std::string budget_reason_;
  int moves_emitted_ = 0;
  std::set<uint32_t> split_new_;       // ids of the upper halves split in this plan
  std::set<uint32_t> echoed_;          // ranges given an echo in this plan
  std::set<std::string> flaps_;        // pods whose flap was refused (counted once)
  const HotPod* relieving_ = nullptr;  // the pod MoveOff relieves (promotion weighing)
  std::string promotion_weight_;       // the last weighing, for the Promote reason
  bool any_watching_ = false;          // some pod was hot (due or not)
};

}  // namespace shardcast::planner::internal
