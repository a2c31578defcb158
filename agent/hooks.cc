// The move and echo steps of docs/dataplane-protocol.md. Called with the
// agent's lock held, after fencing and idempotency checks.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "agent/hook_steps.h"
#include "agent/shard.h"

namespace shardcast::agent {
namespace {

using Json = nlohmann::json;

HttpAnswer Ok(Json j) { return {200, j.dump()}; }

}  // namespace

namespace steps {

std::string Describe(const std::optional<Marker>& m) {
  return m ? "\"" + FormatMarker(*m) + "\"" : "absent";
}

std::optional<HttpAnswer> Mark(RedisConn& conn, const HookRequest& r, const std::string& value,
                               const std::string& where) {
  auto f = FencedMarkerWrite(conn, r.fencing_token, r.range, value);
  if (!f) return ErrorAnswer(503, where + ": " + f.error().message);
  if (f->fenced) {
    return ErrorAnswer(409, "fencingToken: " + std::to_string(r.fencing_token) + " is lower than " +
                                std::to_string(f->seen) + " seen by " + where);
  }
  return std::nullopt;
}

std::string Value(MarkerKind k, std::int64_t epoch, const std::string& ep) {
  return FormatMarker({k, epoch, ep});
}

namespace {
// Owner-side echo registration: fence, SADD/SREM the echo, create or delete
// the write log. KEYS: fence, echo set, log; ARGV: token, op, member.
constexpr const char* kEchoRegisterScript = R"lua(
local f = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = tonumber(ARGV[1])
if t < f then return redis.error_reply('FENCED ' .. f) end
if t > f then redis.call('SET', KEYS[1], ARGV[1]) end
if ARGV[2] == 'add' then
  redis.call('SADD', KEYS[2], ARGV[3])
  if redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('XADD', KEYS[3], '*', 'init', ARGV[3])
  end
else
  redis.call('SREM', KEYS[2], ARGV[3])
end
local left = redis.call('SCARD', KEYS[2])
if left == 0 then
  redis.call('DEL', KEYS[3])
end
return left
)lua";
}  // namespace

Expected<std::int64_t, HttpAnswer> RegisterEcho(RedisConn& owner, const HookRequest& r, bool add) {
  auto reg = owner.Command({"EVAL", kEchoRegisterScript, "3", kFenceKey, EchoSetKey(r.range),
                            WriteLogKey(r.range), std::to_string(r.fencing_token),
                            add ? "add" : "remove", r.target_endpoint.text});
  if (!reg) return unexpected(ErrorAnswer(503, "owner: " + reg.error().message));
  if (reg->is_error()) {
    return unexpected(ErrorAnswer(409, "owner " + r.source_endpoint.text + ": " + reg->str));
  }
  return reg->integer;
}

void ForgetEchoJobs(RedisConn& self, std::uint32_t range) {
  auto all = self.Command({"HGETALL", kJobsKey});
  if (!all || all->type != Reply::Type::kArray) return;
  for (std::size_t i = 0; i + 1 < all->elements.size(); i += 2) {
    const Json j = Json::parse(all->elements[i + 1].str, nullptr, false);
    if (!j.is_discarded() && j.value("hook", "") == "echo-add" && j.contains("request") &&
        j["request"].value("range", -1) == static_cast<std::int64_t>(range)) {
      (void)self.Command({"HDEL", kJobsKey, all->elements[i].str});
    }
  }
}

std::optional<HttpAnswer> DropWriteLog(RedisConn& source, const HookRequest& r) {
  auto d = source.Command({"DEL", WriteLogKey(r.range), EchoSetKey(r.range)});
  if (!d) return ErrorAnswer(503, "source write log: " + d.error().message);
  if (d->is_error()) return ErrorAnswer(503, "source write log: " + d->str);
  return std::nullopt;
}

}  // namespace steps

using steps::Describe;
using steps::DropWriteLog;
using steps::Mark;
using steps::Value;

std::optional<HttpAnswer> Agent::ReadMove(const HookRequest& r, RedisConn& self, MoveView* out) {
  auto source = Connect(r.source_endpoint);
  if (!source) return ErrorAnswer(503, "sourceEndpoint: " + source.error().message);
  auto tm = ReadMarker(self, r.range);
  if (!tm) return ErrorAnswer(503, "target marker: " + tm.error().message);
  auto sm = ReadMarker(**source, r.range);
  if (!sm) return ErrorAnswer(503, "source marker: " + sm.error().message);
  out->source = std::move(*source);
  out->target_marker = *tm;
  out->source_marker = *sm;
  return std::nullopt;
}

HttpAnswer Agent::Prepare(const HookRequest& r, RedisConn& self) {
  MoveView v;
  if (auto e = ReadMove(r, self, &v)) return *e;
  if (PrewarmedMove(r, v)) return PrepareFromEcho(r, self);
  const auto& sm = v.source_marker;
  const bool fresh = !sm;
  const bool same_move =
      sm && sm->kind == MarkerKind::kMigrating && sm->endpoint == r.target_endpoint.text;
  if (!fresh && !same_move) {
    return ErrorAnswer(409, "source: " + r.source_endpoint.text + " does not own range " +
                                std::to_string(r.range) + " outright (marker " + Describe(sm) +
                                ")");
  }
  // A target that gave this range away (`gone`) may still hold stale copies
  // of its keys: a revert after cutover comes back before `release`
  // (CONTRACTS C5). They go before it imports, or a key deleted on the
  // source since would come back. While the marker is `gone` no client
  // command reaches them, so deleting them is invisible.
  const auto& tm = v.target_marker;
  const bool was_gone = tm && tm->kind == MarkerKind::kGone;
  std::uint64_t stale = 0;
  if (was_gone) {
    auto deleted = DeleteRangeKeys(self, r.start, r.end);
    if (!deleted) return ErrorAnswer(503, "delete stale keys: " + deleted.error().message);
    stale = *deleted;
  }
  // An echo here that follows another shard than this move's source (the
  // owner's endpoint changed): not a pre-warmed move. Its follower stops
  // for good before this shard imports, and its copies go; so do the keys
  // of a prepare that stopped after marking this shard (nothing could have
  // written them before the source was marked).
  bool drop_copies = fresh && tm &&
                     (IsEchoMarker(tm) || (tm->kind == MarkerKind::kImporting &&
                                           tm->endpoint == r.source_endpoint.text));
  if (auto old_echo = TakeFollower(r.range, self)) {
    if (auto old = Connect(old_echo->spec().owner)) {
      (void)steps::RegisterEcho(**old, r, /*add=*/false);  // best effort: the old log
    }
    drop_copies = fresh;
  }
  // Target first: while only the target is marked, the source serves all.
  if (auto e = Mark(self, r, Value(MarkerKind::kImporting, r.epoch, r.source_endpoint.text),
                    "target " + r.target_endpoint.text)) {
    return *e;
  }
  if (drop_copies) {
    // Marked first: echo reads are refused while the copies go.
    auto deleted = DeleteRangeKeys(self, r.start, r.end);
    if (!deleted) return ErrorAnswer(503, "delete stale keys: " + deleted.error().message);
    stale = *deleted;
  }
  if (auto e = Mark(*v.source, r, Value(MarkerKind::kMigrating, r.epoch, r.target_endpoint.text),
                    "source " + r.source_endpoint.text)) {
    return *e;
  }
  if (auto e = DropWriteLog(*v.source, r)) return *e;
  Json ans = {{"step", "prepare"}, {"range", r.range}, {"epoch", r.epoch}};
  if (was_gone || drop_copies) ans["staleDeleted"] = stale;
  return Ok(ans);
}

void Agent::StartMoveJob(Hook hook, const HookRequest& r) {
  auto it = jobs_.find(r.action);
  if (it != jobs_.end() && it->second.hook == hook) {
    const Job& job = it->second;
    const JobState s = job.copier ? job.copier->state() : job.finished;
    if (s == JobState::kCopying || s == JobState::kDone) return;
  }
  if (it != jobs_.end() && it->second.copier) it->second.copier->Cancel();
  const bool abort = hook == Hook::kAbort;
  CopySpec spec;
  spec.kind = abort ? "abort" : "move";
  spec.from = abort ? opts_.redis : r.source_endpoint;
  spec.to = abort ? r.source_endpoint : r.target_endpoint;
  spec.start = r.start;
  spec.end = r.end;
  spec.batch = opts_.copy_batch;
  spec.rate = opts_.copy_rate;
  const std::string action = r.action;
  const ConnFactory factory = factory_;
  const Endpoint own = opts_.redis;
  auto on_finish = [factory, own, hook, r, action](JobState s, const std::string& message) {
    auto self = factory(own.host, own.port);
    if (!self) return;
    if (s == JobState::kDone && hook == Hook::kAbort) {
      // Every key is back: the source serves the range again, then the
      // target stops redirecting.
      auto source = factory(r.source_endpoint.host, r.source_endpoint.port);
      auto cleared = [&](RedisConn& c) {
        auto f = FencedMarkerWrite(c, r.fencing_token, r.range, "");
        return f && !f->fenced;
      };
      if (!source || !cleared(**source) || !cleared(**self)) s = JobState::kFailed;
    }
    Json j = {{"hook", HookName(hook)},
              {"request", Json::parse(HookRequestJson(r))},
              {"state", JobStateName(s)},
              {"message", message}};
    (void)(*self)->Command({"HSET", kJobsKey, action, j.dump()});
    spdlog::info("{} of action {} (range {}): {} {}", HookName(hook), action, r.range,
                 JobStateName(s), message);
  };
  PersistJob(action, hook, r, "copying");
  Job job;
  job.hook = hook;
  job.range = r.range;
  job.copier = std::make_unique<Copier>(spec, factory_, metrics_, on_finish);
  job.copier->Start();
  jobs_[action] = std::move(job);
}

HttpAnswer Agent::Copy(const HookRequest& r, RedisConn& self) {
  MoveView v;
  if (auto e = ReadMove(r, self, &v)) return *e;
  const auto& tm = v.target_marker;
  if (!tm || tm->kind != MarkerKind::kImporting || tm->endpoint != r.source_endpoint.text) {
    return ErrorAnswer(409, "range: " + std::to_string(r.range) +
                                " is not prepared on the target"
                                " (marker " +
                                Describe(tm) + "); call prepare first");
  }
  if (PrewarmedMove(r, v)) return CatchUp(r);
  // Keys may leave the source only while it answers ASK for the ones gone.
  const auto& sm = v.source_marker;
  if (!sm || sm->kind != MarkerKind::kMigrating || sm->endpoint != r.target_endpoint.text) {
    return ErrorAnswer(409, "range: the source is not migrating to the target (marker " +
                                Describe(sm) + "); call prepare first");
  }
  StartMoveJob(Hook::kCopy, r);
  return {202, Json{{"step", "copy"}, {"state", "copying"}, {"range", r.range}}.dump()};
}

HttpAnswer Agent::Cutover(const HookRequest& r, RedisConn& self) {
  MoveView v;
  if (auto e = ReadMove(r, self, &v)) return *e;
  const auto& tm = v.target_marker;
  const auto& sm = v.source_marker;
  const bool done_before =
      !tm && sm && sm->kind == MarkerKind::kGone && sm->endpoint == r.target_endpoint.text;
  if (done_before) return Ok({{"step", "cutover"}, {"range", r.range}, {"epoch", r.epoch}});
  if (PrewarmedMove(r, v)) return CutoverFromEcho(r, self, v);
  if (!tm || tm->kind != MarkerKind::kImporting) {
    return ErrorAnswer(409, "range: not importing on the target (marker " + Describe(tm) + ")");
  }
  // The copy must be complete: no key of the range may be left on the source.
  auto job = jobs_.find(r.action);
  const bool copied =
      job != jobs_.end() && job->second.hook == Hook::kCopy &&
      (job->second.copier ? job->second.copier->state() : job->second.finished) == JobState::kDone;
  if (!copied) {
    auto left = CountRangeKeys(*v.source, r.start, r.end);
    if (!left) return ErrorAnswer(503, "source scan: " + left.error().message);
    if (*left > 0) {
      return ErrorAnswer(409, "copy: not done, " + std::to_string(*left) +
                                  " keys of the range are still on the source");
    }
  }
  if (auto e = Mark(self, r, "", "target " + r.target_endpoint.text)) return *e;
  if (auto e = Mark(*v.source, r, Value(MarkerKind::kGone, r.epoch, r.target_endpoint.text),
                    "source " + r.source_endpoint.text)) {
    return *e;
  }
  return Ok({{"step", "cutover"}, {"range", r.range}, {"epoch", r.epoch}});
}

HttpAnswer Agent::Release(const HookRequest& r, RedisConn& self) {
  auto m = ReadMarker(self, r.range);
  if (!m) return ErrorAnswer(503, "source marker: " + m.error().message);
  if (!*m || (*m)->kind != MarkerKind::kGone) {
    return ErrorAnswer(409,
                       "range: release refused, the source has not given the range away"
                       " (marker " +
                           Describe(*m) + ")");
  }
  if (auto e = Mark(self, r, FormatMarker(**m), "source " + r.source_endpoint.text)) return *e;
  auto deleted = DeleteRangeKeys(self, r.start, r.end);
  if (!deleted) return ErrorAnswer(503, "delete: " + deleted.error().message);
  return Ok({{"step", "release"}, {"range", r.range}, {"deleted", *deleted}});
}

HttpAnswer Agent::Abort(const HookRequest& r, RedisConn& self) {
  MoveView v;
  if (auto e = ReadMove(r, self, &v)) return *e;
  if (!v.target_marker && v.source_marker && v.source_marker->kind == MarkerKind::kGone) {
    return ErrorAnswer(409,
                       "range: cutover is done; a revert is a new move in the other direction");
  }
  if (PrewarmedMove(r, v) && v.target_marker && v.target_marker->kind == MarkerKind::kImporting) {
    return AbortFromEcho(r, self, v);
  }
  if (!v.target_marker && !v.source_marker)
    return Ok({{"step", "abort"}, {"state", "done"}, {"range", r.range}});
  // Stop the forward copy before the direction flips.
  for (auto& [action, job] : jobs_) {
    if (job.range == r.range && job.copier && job.copier->state() == JobState::kCopying) {
      job.copier->Cancel();
      job.finished = JobState::kFailed;
      job.message = "aborted";
    }
  }
  if (auto e = Mark(*v.source, r, Value(MarkerKind::kImporting, r.epoch, r.target_endpoint.text),
                    "source " + r.source_endpoint.text)) {
    return *e;
  }
  if (auto e = Mark(self, r, Value(MarkerKind::kMigrating, r.epoch, r.source_endpoint.text),
                    "target " + r.target_endpoint.text)) {
    return *e;
  }
  StartMoveJob(Hook::kAbort, r);
  return {202, Json{{"step", "abort"}, {"state", "copying"}, {"range", r.range}}.dump()};
}

std::unique_ptr<EchoFollower> Agent::TakeFollower(std::uint32_t range, RedisConn& self) {
  auto it = echoes_.find(range);
  if (it == echoes_.end()) return nullptr;
  std::unique_ptr<EchoFollower> f = std::move(it->second);
  echoes_.erase(it);
  f->Quiesce();
  steps::ForgetEchoJobs(self, range);
  return f;
}

void Agent::StartEcho(const HookRequest& r) {
  if (auto it = echoes_.find(r.range); it != echoes_.end()) it->second->Stop();
  EchoSpec spec{r.range,           r.start,          r.end,          r.epoch, r.source_endpoint,
                r.target_endpoint, opts_.echo_bound, opts_.echo_pace};
  auto f = std::make_unique<EchoFollower>(spec, factory_, metrics_);
  f->Start();
  echoes_[r.range] = std::move(f);
  echo_actions_[r.action] = r.range;
}

HttpAnswer Agent::EchoAdd(const HookRequest& r, RedisConn& self) {
  auto m = ReadMarker(self, r.range);
  if (!m) return ErrorAnswer(503, "echo marker: " + m.error().message);
  if (*m && !IsEchoMarker(*m)) {
    return ErrorAnswer(
        409, "range: this shard is part of a move of the range (marker " + Describe(*m) + ")");
  }
  auto owner = Connect(r.source_endpoint);
  if (!owner) return ErrorAnswer(503, "sourceEndpoint: " + owner.error().message);
  auto reg = steps::RegisterEcho(**owner, r, /*add=*/true);
  if (!reg) return reg.error();
  if (auto e = Mark(self, r, Value(MarkerKind::kEchoStale, r.epoch, r.source_endpoint.text),
                    "echo " + r.target_endpoint.text)) {
    return *e;
  }
  PersistJob(r.action, Hook::kEchoAdd, r, "following");
  StartEcho(r);
  return {202, Json{{"step", "echo-add"}, {"state", "copying"}, {"range", r.range}}.dump()};
}

HttpAnswer Agent::EchoRemove(const HookRequest& r, RedisConn& self) {
  auto m = ReadMarker(self, r.range);
  if (!m) return ErrorAnswer(503, "echo marker: " + m.error().message);
  const bool echo_marker = IsEchoMarker(*m);
  if (*m && !echo_marker) {
    // A pre-warmed move of the range to this pod has begun (importing), or
    // it owns the range since: its keys are no echo's to drop.
    return ErrorAnswer(
        409, "range: this shard is no longer an echo of the range (marker " + Describe(*m) + ")");
  }
  // Without a marker (the lease lapsed) the keys are the echo's only while it
  // is still followed here; a pod that took the range over by a pre-warmed
  // move has neither, and keeps them.
  // (Joined when this returns; quiesced already.)
  const std::unique_ptr<EchoFollower> followed = TakeFollower(r.range, self);
  std::uint64_t deleted = 0;
  if (echo_marker || followed) {
    if (auto e = Mark(self, r, "", "echo " + r.target_endpoint.text)) return *e;
    auto d = DeleteRangeKeys(self, r.start, r.end);
    if (!d) return ErrorAnswer(503, "delete: " + d.error().message);
    deleted = *d;
  }
  auto owner = Connect(r.source_endpoint);
  if (!owner) return ErrorAnswer(503, "sourceEndpoint: " + owner.error().message);
  auto left = steps::RegisterEcho(**owner, r, /*add=*/false);
  if (!left) return left.error();
  return Ok(
      {{"step", "echo-remove"}, {"range", r.range}, {"deleted", deleted}, {"echoesLeft", *left}});
}

}  // namespace shardcast::agent
