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

// The typed ShardSet (controllers/api/shardset.h) plus what the reconciler
// decides for this round.
struct ShardSetSpec : api::ShardSet {
  // Set by the reconciler when a MigrationPolicy's replica request sets the
  // count: a pod that joins the routing owning nothing is left empty for the
  // policy's planned moves to fill with the ranges that need it, instead of
  // taking its share of the hash ring (ranges chosen without regard to
  // load, which the planner would then move again).
  bool policy_fills_joiners = false;
};

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
  std::set<std::string> referenced_pods() const;
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
// is reset to stable. `pod_ips` maps pod name -> IP.
Json BuildRoutingDocument(const ShardSetSpec& set,
                          const std::map<uint32_t, std::string>& assignment,
                          const std::map<std::string, std::string>& pod_ips, int64_t epoch,
                          const RoutingDocument* previous);

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
  int desired_replicas = 0;           // active pods worked towards
  std::string desired_from = "spec";  // "spec" or "MigrationPolicy/<name>"
  std::vector<Condition> conditions;  // Ready, Progressing, Degraded
};

// The status object. Conditions keep `lastTransitionTime` from
// `previous_status` when their status did not change; `now` (RFC 3339) is
// used otherwise. Equal inputs give an equal object, so the caller can skip
// the write when nothing changed.
Json BuildStatus(const StatusInput& in, const Json& previous_status, const std::string& now);

// ---- desired steps ----

enum class StepKind {
  kNone,          // converged, or waiting
  kPromote,       // relabel ready warm pods active
  kWriteRouting,  // publish a new routing document
  kDeletePods,    // failed, drained scale-in victims, excess warm pods
  kCreatePods,    // PVCs first, then the pods
};

struct PodCreate {
  long ordinal = 0;
  std::string role;
};

struct PodDelete {
  std::string name;
  std::string uid;
  std::string reason;  // "Failed", "ScaleIn", "ExcessWarm"
};

struct Desired {
  StepKind kind = StepKind::kNone;
  std::vector<std::string> promote;            // pod names (kPromote)
  std::vector<PodCreate> create;               // kCreatePods
  std::vector<PodDelete> remove;               // kDeletePods
  std::map<uint32_t, std::string> assignment;  // kWriteRouting
  size_t moved = 0;                            // ranges whose owner changes
  std::vector<std::string> victims;            // scale-in victims (being drained)
  bool waiting = false;                        // pods not Ready yet: requeue soon
  std::string problem;                         // non-empty: Degraded with this message
  std::string summary;                         // one line for Progressing / logs
};

struct Observation {
  std::vector<ObservedPod> pods;           // pods of this set (owner = set), incl. terminating
  std::set<std::string> occupied_names;    // every pod name in the namespace with the set's prefix
  std::optional<RoutingDocument> routing;  // the published document, if any
};

// Decides the one kind of step to take this round, in priority order:
// promote a Ready warm pod for a missing active one; publish routing over the
// Ready active pods (minus scale-in victims); delete pods that own nothing
// (failed, drained victims, excess warm); create missing pods (lowest free
// ordinal first). A pod named in the published routing document is never in
// `remove`.
Desired ComputeDesired(const ShardSetSpec& set, const Observation& obs);

// Ready active pods (sorted by ordinal) the routing document may name.
std::vector<std::string> RoutablePods(const ShardSetSpec& set, const Observation& obs,
                                      const std::vector<std::string>& victims);

}  // namespace shardcast::shardset
