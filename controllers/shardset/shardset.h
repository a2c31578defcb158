// ShardSet controller: pure parts (no I/O). Parsing of the ShardSet, the
// builders of the objects the controller writes (pods, PVCs, the routing
// document, status) and Desired(), which turns an observation into the steps
// to take this round. Everything here is deterministic and unit-tested
// without a cluster; the reconciler (reconciler.h) only executes the steps.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controllers/api/shardset.h"
#include "util/expected.h"

namespace shardcast::shardset {

using Json = nlohmann::json;

// ---- spec ----

// The typed ShardSet (controllers/api/shardset.h); the reconciler may set
// `replicas` from a governing MigrationPolicy's replica request.
struct ShardSetSpec : api::ShardSet {};

// api::ParseShardSet(obj, ShardSetUse::kWorkload): the one ShardSet parser;
// errors name the field (e.g. "spec.warmPool.size: must be an integer in
// 0..100, got \"two\"").
[[nodiscard]] Result<ShardSetSpec> ParseShardSet(const Json& obj);

// ---- pods ----

struct ObservedPod {
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string role;          // "active", "warm", or "" when the label is missing
  std::string phase;         // Pending, Running, Succeeded, Failed, Unknown
  std::string ip;            // status.podIP, "" when none
  bool ready = false;        // condition Ready=True
  bool terminating = false;  // metadata.deletionTimestamp set
  long ordinal = -1;

  bool failed() const { return phase == "Failed" || phase == "Succeeded"; }
  // Counts toward the set: not failed and not being deleted.
  bool live() const { return !failed() && !terminating; }
};

// Reads the fields the controller needs from a Pod object (never throws).
ObservedPod ObservePod(const Json& pod);

// The pod `<set>-<ordinal>` built from spec.template: labels
// shardcast.dev/shardset and shardcast.dev/role, a controller owner reference
// to the ShardSet, hostname = pod name, and a volume per volumeClaimTemplate.
Json BuildPod(const ShardSetSpec& set, long ordinal, const std::string& role);
// The claim `<claim>-<set>-<ordinal>` of one volumeClaimTemplate.
[[nodiscard]] Result<Json> BuildPvc(const ShardSetSpec& set, const Json& claim_template,
                                    long ordinal);
std::string PodName(const ShardSetSpec& set, long ordinal);
// The claims of `pod`, `<claim>-<pod>`, one per volumeClaimTemplate.
std::vector<std::string> ClaimNames(const ShardSetSpec& set, const std::string& pod);
Json OwnerReference(const ShardSetSpec& set);

// ---- routing document ----

struct RoutingRange {
  uint32_t id = 0;
  uint32_t start = 0;
  uint32_t end = 0;
  std::string owner;
  std::string endpoint;
  std::string state = "stable";
  Json raw = Json::object();  // the entry as published, unknown fields included
};

struct RoutingDocument {
  int64_t epoch = 0;
  std::vector<RoutingRange> ranges;  // ordered by start
  Json raw = Json::object();

  // Pods named anywhere in the document: owners, migration sources and
  // targets, echoes. None of them may be deleted.
  std::set<std::string> ReferencedPods() const;
  std::map<uint32_t, std::string> owners() const;
};

// Parses routing.json; errors name the field ("ranges[3].end: ...").
// Rejects documents whose ranges do not cover [0, 2^32) exactly once, with
// duplicate ids, or with a range without an owner.
[[nodiscard]] Result<RoutingDocument> ParseRoutingDocument(const std::string& text);

// `count` ranges splitting [0, 2^32) evenly: {id, start, end}.
std::vector<RoutingRange> EvenRanges(int count);

// Pod IP and port as an endpoint ("[v6]:port" for IPv6; "" without an IP).
std::string Endpoint(const std::string& ip, int port);

// The routing document for `assignment` (range id -> owner pod). Ranges and
// their start/end come from `previous` when there is one (the planner may
// have split or merged), else EvenRanges(set.ranges). Every entry of
// `previous` is kept with its unknown fields, migration markers (state,
// source, target, shadowFraction, targetEndpoint) and echoes; only owner and
// endpoint are rewritten, and a migration whose source is no longer the owner
// is reset to stable. `pod_ips` maps pod name -> IP. The ShardSet controller
// uses it only for the first document (previous == nullptr); tests use it
// to stand in for the executor.
Json BuildRoutingDocument(const ShardSetSpec& set,
                          const std::map<uint32_t, std::string>& assignment,
                          const std::map<std::string, std::string>& pod_ips, int64_t epoch,
                          const RoutingDocument* previous);

// ---- ownership requests (contract C1) ----

// Reasons of an ownership request.
inline constexpr const char* kReasonScaleIn = "ScaleIn";
inline constexpr const char* kReasonShedding = "Shedding";
inline constexpr const char* kReasonOwnerGone = "OwnerGone";

// A range the ShardSet controller wants off its owner, published in
// status.ownershipRequests for the executor (the MigrationPolicy controller)
// to carry out. The ShardSet controller itself never changes an owner.
struct OwnershipRequest {
  uint32_t range = 0;
  std::string owner;   // as named in the published document
  std::string reason;  // kReasonScaleIn | kReasonShedding | kReasonOwnerGone
  std::string since;   // RFC 3339; filled by the reconciler ("" in Desired)
  bool operator==(const OwnershipRequest&) const = default;
};

// Keeps `since` from `previous` (status.ownershipRequests as published) for
// an entry with the same range, owner and reason; `now` otherwise.
void CarrySince(std::vector<OwnershipRequest>& requests, const Json& previous,
                const std::string& now);

// The ranges of the OwnerGone requests in `requests`, as "3, 7 (kv-1); 9
// (kv-4)": owners in name order, ranges ascending.
std::string LostRangesText(const std::vector<OwnershipRequest>& requests);

// The DataLost condition's message for the OwnerGone requests in
// `requests` ("" when none); `policy` is the governing MigrationPolicy or "".
std::string DataLostMessage(const std::vector<OwnershipRequest>& requests,
                            const std::string& policy);

// The Progressing message for `requests` ("" when none): counts by reason
// and who carries them out; without a MigrationPolicy it says the ranges are
// waiting for one.
std::string RequestsMessage(const std::vector<OwnershipRequest>& requests,
                            const std::string& policy);

// Adds to `held` the pods (source and target) of every unfinished action
// of set `set` in the MigrationPolicy `policy`'s status.actions, mapped to
// "<action id> (MigrationPolicy <name>)". Tolerant: malformed entries are
// skipped. A move off a scale-in victim may still revert to it until the
// action is terminal (Completed, Reverted, Failed), so the victim stays.
void AddHeldPods(const Json& policy, const std::string& set,
                 std::map<std::string, std::string>& held);

// Appends the pods (targets) of the unfinished Promote actions of set `set`
// in the MigrationPolicy `policy`'s status.actions, in their order, once
// each. The planner chose them (a pod pre-warmed with the ranges it will
// receive, or one out of cooldown); the ShardSet controller promotes them
// before any other warm pod. Tolerant like AddHeldPods.
void AddPromotions(const Json& policy, const std::string& set, std::vector<std::string>& pods);
// Likewise the pods (sources) of the unfinished ScaleIn and Demote actions:
// the planner drained them, and they are the scale-in victims first.
void AddScaleIns(const Json& policy, const std::string& set, std::vector<std::string>& pods);

// ---- status ----

struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;
  std::string message;
};

struct StatusInput {
  int64_t observed_generation = 0;
  std::string selector;
  std::vector<ObservedPod> pods;                 // live pods of the set
  std::map<std::string, size_t> ranges_per_pod;  // from the published document
  int64_t epoch = 0;
  int desired_replicas = 0;                          // active pods worked towards
  std::string desired_from = "spec";                 // "spec" or "MigrationPolicy/<name>"
  std::vector<Condition> conditions;                 // Ready, Progressing, Degraded, DataLost
  std::vector<OwnershipRequest> ownership_requests;  // sorted by range
};

// The status object. Conditions keep `lastTransitionTime` from
// `previous_status` when their status did not change; `now` (RFC 3339) is
// used otherwise. Fields this controller does not write (forecasts and
// others written by other controllers) are kept from `previous_status`.
// Equal inputs give an equal object, so the caller can skip the write when
// nothing changed.
Json BuildStatus(const StatusInput& in, const Json& previous_status, const std::string& now);

// ---- desired steps ----

enum class StepKind {
  kNone,           // converged, or waiting
  kPromote,        // relabel ready warm pods active
  kCreateRouting,  // publish the first routing document (create-only)
  kDeletePods,     // failed, drained scale-in victims, excess warm pods
  kCreatePods,     // PVCs first, then the pods
};

struct PodCreate {
  long ordinal = 0;
  std::string role;
};

// Reasons of a pod deletion.
inline constexpr const char* kDeleteFailed = "Failed";          // owns nothing; claims kept
inline constexpr const char* kDeleteRestart = "Restart";        // failed owner with claims
inline constexpr const char* kDeleteScaleIn = "ScaleIn";        // drained victim; claims go
inline constexpr const char* kDeleteExcessWarm = "ExcessWarm";  // claims go

struct PodDelete {
  std::string name;
  std::string uid;
  std::string reason;  // kDelete*
};

struct Desired {
  StepKind kind = StepKind::kNone;
  std::vector<std::string> promote;            // pod names (kPromote)
  std::vector<PodCreate> create;               // kCreatePods
  std::vector<PodDelete> remove;               // kDeletePods
  std::map<uint32_t, std::string> assignment;  // kCreateRouting: the first placement
  std::vector<std::string> victims;            // scale-in victims (being drained)
  // Ranges wanted off their owners, sorted by range; computed every round
  // from the valid published document, whatever the step.
  std::vector<OwnershipRequest> requests;
  std::vector<std::string> returning;  // owners re-created under their name (data in claims)
  // Pods that would be deleted (scale-in victims, excess warm pods) but are
  // kept while an unfinished action names them -> that action.
  std::map<std::string, std::string> held;
  bool waiting = false;  // pods not Ready yet: requeue soon
  std::string problem;   // non-empty: Degraded with this message
  std::string summary;   // one line for Progressing / logs
};

struct Observation {
  std::vector<ObservedPod> pods;         // pods of this set (owner = set), incl. terminating
  std::set<std::string> occupied_names;  // every pod name in the namespace with the set's prefix
  // The published document, if any. With routing_invalid, the last good
  // copy instead (or none): the document routers keep serving.
  std::optional<RoutingDocument> routing;
  // The ConfigMap's document does not parse, or is missing after one was
  // published: no ownership request, no pod deletion, no routing write.
  bool routing_invalid = false;
  // Names of PersistentVolumeClaims known to exist. The reconciler looks up
  // the claims of every owner without a live pod; an owner whose claims
  // (one per volumeClaimTemplate) all exist is re-created, not gone.
  std::set<std::string> claims;
  // Pods named (source or target) by an unfinished action in a
  // MigrationPolicy's status.actions for this set -> that action's id. A
  // scale-in victim or excess warm pod among them is not deleted yet.
  std::map<std::string, std::string> held;
  // Warm pods that the governing MigrationPolicy's unfinished Promote
  // actions name, in order (AddPromotions): promoted before the others.
  std::vector<std::string> promote_first;
  // Active pods that its unfinished ScaleIn and Demote actions name
  // (AddScaleIns): the scale-in victims before the others.
  std::vector<std::string> scale_in_first;
};

// Decides this round. Ownership requests (always, from a valid document):
// OwnerGone for the ranges of an owner without a live pod whose data has no
// copy (no volumeClaimTemplates, or a claim missing), ScaleIn for the ranges
// of scale-in victims, Shedding for a staying owner's ranges beyond
// ceil(loadFactor * ranges / staying pods). Then one kind of step, in
// priority order: promote a Ready warm pod for a missing active one (an
// owner coming back counts as present; the pods obs.promote_first names
// first, then by ordinal); publish the first routing document
// (only when none was ever published); delete pods the document does not
// name (failed, drained victims, excess warm) and failed owners that come
// back from their claims; create missing pods (owners coming back under
// their own name, then lowest free ordinal first, never a name the document
// gives ranges to). A scale-in victim or excess warm pod that an
// unfinished action names (obs.held) is kept until that action is terminal.
// A readiness loss changes nothing. Pure.
Desired ComputeDesired(const ShardSetSpec& set, const Observation& obs);

// Ready active pods (sorted by ordinal) the routing document may name.
std::vector<std::string> RoutablePods(const ShardSetSpec& set, const Observation& obs,
                                      const std::vector<std::string>& victims);

}  // namespace shardcast::shardset
