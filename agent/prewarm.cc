// A pre-warmed move: the range moves to a pod that already echoes it from
// the same source (docs/agent.md, "Pre-warmed moves"). The echo's copy,
// kept by the follower from the owner's write log, becomes the new owner's
// data, so the move carries only the writes the echo has not applied yet:
//
//   prepare  target `importing` (the follower keeps applying the log but no
//            longer writes the echo marker); the source keeps serving
//            everything, so no ASK ever reaches the target
//   copy     a catch-up job: done once the echo is caught up
//   cutover  the source `frozen` (reads served, writes refused TRYAGAIN),
//            the follower applies the log up to its last entry, stops and
//            is unregistered; the target's marker goes, the source `gone`
//   abort    the source unfrozen; the target drops its copy and its marker
//
// At every moment one shard is authoritative: the source until it is gone,
// and it takes no write between the end of the log the target applied and
// `gone`. Called with the agent's lock held.
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "agent/hook_steps.h"
#include "agent/shard.h"

namespace shardcast::agent {
namespace {

using Json = nlohmann::json;
using steps::Describe;
using steps::Mark;
using steps::Value;

}  // namespace

bool Agent::PrewarmedMove(const HookRequest& r, const MoveView& v) const {
  const auto& tm = v.target_marker;
  const auto& sm = v.source_marker;
  const std::string& src = r.source_endpoint.text;
  const bool frozen_for_us =
      sm && sm->kind == MarkerKind::kFrozen && sm->endpoint == r.target_endpoint.text;
  const bool importing = tm && tm->kind == MarkerKind::kImporting && tm->endpoint == src;
  auto f = echoes_.find(r.range);
  const bool following = f != echoes_.end() && f->second->spec().owner.text == src;
  // The source must not be in a key-by-key move (migrating): that is the
  // ordinary path, whose copy moves every key.
  if (sm && !frozen_for_us) return false;
  if (following) return !tm || importing || (IsEchoMarker(tm) && tm->endpoint == src);
  // The follower is stopped only after it applied the whole log of a frozen
  // source: what is left is the cutover's last two marker writes.
  return frozen_for_us && importing;
}

HttpAnswer Agent::PrepareFromEcho(const HookRequest& r, RedisConn& self) {
  // The follower's marker writes are conditional on an echo marker, so from
  // here on it leaves `importing` alone.
  if (auto e = Mark(self, r, Value(MarkerKind::kImporting, r.epoch, r.source_endpoint.text),
                    "target " + r.target_endpoint.text)) {
    return *e;
  }
  return {200,
          Json{{"step", "prepare"}, {"range", r.range}, {"epoch", r.epoch}, {"prewarmed", true}}
              .dump()};
}

HttpAnswer Agent::CatchUp(const HookRequest& r) {
  auto it = jobs_.find(r.action);
  if (it == jobs_.end() || !it->second.catch_up) {
    jobs_[r.action] = Job{Hook::kCopy, r.range, nullptr, JobState::kCopying, "", true};
    PersistJob(r.action, Hook::kCopy, r, "catching-up");
  }
  return {
      202,
      Json{{"step", "copy"}, {"state", "copying"}, {"range", r.range}, {"prewarmed", true}}.dump()};
}

std::optional<HttpAnswer> Agent::DropFollower(const HookRequest& r, RedisConn& self,
                                              RedisConn& owner,
                                              std::unique_ptr<EchoFollower>* retired) {
  // Joining could wait out the follower's blocking read of the log (up to
  // 100 ms) while the source is frozen; quiescing is enough to go on. First
  // the persisted job (a restart must not refill over the new owner's keys),
  // then the owner's registration (its write log goes with the last).
  *retired = TakeFollower(r.range, self);
  for (auto it = echo_actions_.begin(); it != echo_actions_.end();) {
    it = it->second == r.range ? echo_actions_.erase(it) : std::next(it);
  }
  auto left = steps::RegisterEcho(owner, r, /*add=*/false);
  if (!left) return left.error();
  return std::nullopt;
}

HttpAnswer Agent::CutoverFromEcho(const HookRequest& r, RedisConn& self, MoveView& v) {
  const std::string target = "target " + r.target_endpoint.text;
  const std::string source = "source " + r.source_endpoint.text;
  if (!v.target_marker || v.target_marker->kind != MarkerKind::kImporting) {
    return ErrorAnswer(409, "range: not importing on the target (marker " +
                                Describe(v.target_marker) + "); call prepare first");
  }
  std::unique_ptr<EchoFollower> retired;  // joined on return, after the freeze
  const auto t0 = std::chrono::steady_clock::now();
  if (!v.source_marker) {
    if (auto e = Mark(*v.source, r, Value(MarkerKind::kFrozen, r.epoch, r.target_endpoint.text),
                      source)) {
      return *e;
    }
  }
  auto unfreeze = [&](int status, const std::string& why) {
    if (auto e = Mark(*v.source, r, "", source)) {
      return ErrorAnswer(503, why + "; unfreezing the source failed too: " + e->body);
    }
    return ErrorAnswer(status, why + "; the source takes writes again, retry the cutover");
  };
  if (auto f = echoes_.find(r.range); f != echoes_.end()) {
    // No write reaches the frozen source: its log ends here.
    auto tail = v.source->Command({"XREVRANGE", WriteLogKey(r.range), "+", "-", "COUNT", "1"});
    if (!tail) return unfreeze(503, "source log: " + tail.error().message);
    if (tail->type != Reply::Type::kArray || tail->elements.empty()) {
      return unfreeze(409, "source: the write log " + WriteLogKey(r.range) +
                               " is missing, the echo cannot be caught up");
    }
    const std::string last = tail->elements[0].elements[0].str;
    const auto wait = std::max(std::chrono::milliseconds(2000), 2 * opts_.echo_bound);
    if (!f->second->WaitApplied(last, wait)) {
      return unfreeze(503, "catch-up: the echo did not apply the source's log up to " + last +
                               " within " + std::to_string(wait.count()) + "ms (lag " +
                               std::to_string(f->second->lag_seconds()) + "s " +
                               f->second->last_error() + ")");
    }
    if (auto e = DropFollower(r, self, *v.source, &retired)) return *e;
  }
  // Other echoes of the range followed the source; they go stale.
  if (auto e = steps::DropWriteLog(*v.source, r)) return *e;
  if (auto e = Mark(self, r, "", target)) return *e;
  if (auto e =
          Mark(*v.source, r, Value(MarkerKind::kGone, r.epoch, r.target_endpoint.text), source)) {
    return *e;
  }
  if (auto it = jobs_.find(r.action); it != jobs_.end() && it->second.catch_up) {
    it->second.finished = JobState::kDone;
  }
  const auto frozen_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  spdlog::info("pre-warmed cutover of range {} (action {}): writes paused {} ms", r.range, r.action,
               frozen_ms);
  return {200, Json{{"step", "cutover"},
                    {"range", r.range},
                    {"epoch", r.epoch},
                    {"prewarmed", true},
                    {"writesPausedMs", frozen_ms}}
                   .dump()};
}

HttpAnswer Agent::AbortFromEcho(const HookRequest& r, RedisConn& self, MoveView& v) {
  const std::string source = "source " + r.source_endpoint.text;
  // The source never gave a key away: unfreezing it is the whole abort for
  // clients. Then the target drops its copy.
  if (v.source_marker && v.source_marker->kind == MarkerKind::kFrozen) {
    if (auto e = Mark(*v.source, r, "", source)) return *e;
  }
  std::unique_ptr<EchoFollower> retired;
  if (auto e = DropFollower(r, self, *v.source, &retired)) return *e;
  retired.reset();  // joined: no write of it may follow the deletion below
  auto deleted = DeleteRangeKeys(self, r.start, r.end);
  if (!deleted) return ErrorAnswer(503, "delete: " + deleted.error().message);
  if (auto e = Mark(self, r, "", "target " + r.target_endpoint.text)) return *e;
  for (auto& [action, job] : jobs_) {
    if (job.range == r.range && job.catch_up && job.finished == JobState::kCopying) {
      job.finished = JobState::kFailed;
      job.message = "aborted";
    }
  }
  jobs_[r.action] =
      Job{Hook::kAbort, r.range, nullptr, JobState::kDone, "pre-warmed copy dropped", false};
  PersistJob(r.action, Hook::kAbort, r, "done");
  return {202, Json{{"step", "abort"},
                    {"state", "done"},
                    {"range", r.range},
                    {"prewarmed", true},
                    {"deleted", *deleted}}
                   .dump()};
}

}  // namespace shardcast::agent
