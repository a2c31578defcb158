#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "agent/shard.h"

namespace shardcast::agent {

using Json = nlohmann::json;

HttpAnswer ErrorAnswer(int status, const std::string& message) {
  return {status, Json{{"error", message}}.dump()};
}

Agent::Agent(AgentOptions opts, ConnFactory factory, const AgentMetrics* metrics)
    : opts_(std::move(opts)), factory_(std::move(factory)), metrics_(metrics) {}

Agent::~Agent() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [action, job] : jobs_) {
    if (job.copier) job.copier->Cancel();
  }
  for (auto& [range, f] : echoes_) f->Stop();
}

Result<std::unique_ptr<RedisConn>> Agent::Connect(const Endpoint& ep) {
  return factory_(ep.host, ep.port);
}

RedisConn* Agent::Self(std::string* error) {
  if (self_) {
    auto ping = self_->Command({"PING"});
    if (ping && !ping->is_error()) return self_.get();
    self_.reset();
  }
  auto c = Connect(opts_.redis);
  if (!c) {
    *error = c.error().message;
    return nullptr;
  }
  self_ = std::move(*c);
  return self_.get();
}

void Agent::Count(Hook hook, const std::string& result) {
  if (metrics_ != nullptr) {
    metrics_->hook_requests->with({{"hook", HookName(hook)}, {"result", result}})->inc();
  }
}

HttpAnswer Agent::Handle(const HttpRequest& req) {
  static const std::string kPrefix = "/shardcast/";
  if (req.path == "/healthz") return Healthz();
  if (req.path.rfind(kPrefix, 0) != 0) return ErrorAnswer(404, "path: unknown " + req.path);
  const std::string name = req.path.substr(kPrefix.size());
  if (name == "ranges") {
    if (req.method != "GET" && req.method != "POST") {
      return ErrorAnswer(405, "method: ranges takes GET or POST");
    }
    return Ranges(req);
  }
  if (name == "progress" || name == "healthz") {
    if (req.method != "GET") return ErrorAnswer(405, "method: " + name + " takes GET");
    if (name == "progress") return Progress(req);
    return Healthz();
  }
  auto hook = ParseHookName(name);
  if (!hook) return ErrorAnswer(404, "path: unknown hook " + name);
  if (req.method != "POST") return ErrorAnswer(405, "method: hooks take POST");
  return HandleHook(*hook, req);
}

HttpAnswer Agent::HandleHook(Hook hook, const HttpRequest& req) {
  auto r = ParseHookRequest(req.body);
  if (!r) {
    Count(hook, "bad_request");
    return ErrorAnswer(400, r.error().message);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string err;
  RedisConn* self = Self(&err);
  if (self == nullptr) {
    Count(hook, "error");
    return ErrorAnswer(503, "own shard unreachable: " + err);
  }
  auto fence = FencedMarkerWrite(*self, r->fencing_token, std::nullopt, "");
  if (!fence) {
    Count(hook, "error");
    return ErrorAnswer(503, "fence: " + fence.error().message);
  }
  if (fence->fenced) {
    Count(hook, "fenced");
    return ErrorAnswer(409, "fencingToken: " + std::to_string(r->fencing_token) +
                                " is lower than " + std::to_string(fence->seen) +
                                ", the highest this shard has seen");
  }
  const std::string field = RecordField(r->action, HookName(hook));
  const std::string fp = Fingerprint(hook, *r);
  auto rec = self->Command({"HGET", kActionsKey, field});
  std::optional<ActionRecord> record;
  if (rec && rec->type == Reply::Type::kString) {
    auto d = DecodeRecord(rec->str);
    if (d) record = *d;
  }
  const Replay replay = DecideReplay(record, fp);
  if (replay.conflict) {
    Count(hook, "conflict");
    return ErrorAnswer(409, replay.message);
  }
  if (replay.replay) {
    // The step was answered before: answer the same. A copy or abort whose
    // job is gone (agent restarted without it) or failed is started again.
    if (hook == Hook::kCopy || hook == Hook::kAbort) StartMoveJob(hook, *r);
    if (hook == Hook::kEchoAdd && !echoes_.contains(r->range)) StartEcho(*r);
    Count(hook, "replayed");
    return {record->status, record->body};
  }
  HttpAnswer ans = Execute(hook, *r, *self);
  if (ShouldRecord(ans.status)) Record(*self, field, fp, ans);
  Count(hook, ans.status < 300 ? "ok" : (ans.status == 409 ? "conflict" : "error"));
  return ans;
}

HttpAnswer Agent::Execute(Hook hook, const HookRequest& r, RedisConn& self) {
  switch (hook) {
    case Hook::kPrepare:
      return Prepare(r, self);
    case Hook::kCopy:
      return Copy(r, self);
    case Hook::kCutover:
      return Cutover(r, self);
    case Hook::kRelease:
      return Release(r, self);
    case Hook::kAbort:
      return Abort(r, self);
    case Hook::kEchoAdd:
      return EchoAdd(r, self);
    case Hook::kEchoRemove:
      return EchoRemove(r, self);
  }
  return ErrorAnswer(404, "hook: unknown");
}

void Agent::Record(RedisConn& self, const std::string& field, const std::string& fingerprint,
                   const HttpAnswer& ans) {
  const std::string value = EncodeRecord({fingerprint, ans.status, ans.body});
  auto r = self.Pipeline({{"HSET", kActionsKey, field, value},
                          {"RPUSH", kActionOrderKey, field},
                          {"LLEN", kActionOrderKey}});
  if (!r || (*r)[2].type != Reply::Type::kInteger) return;
  for (std::int64_t n = (*r)[2].integer; n > static_cast<std::int64_t>(opts_.max_records); --n) {
    auto old = self.Command({"LPOP", kActionOrderKey});
    if (!old || old->type != Reply::Type::kString) break;
    (void)self.Command({"HDEL", kActionsKey, old->str});
  }
}

void Agent::PersistJob(const std::string& action, Hook hook, const HookRequest& r,
                       const std::string& state) {
  Json j = {
      {"hook", HookName(hook)}, {"request", Json::parse(HookRequestJson(r))}, {"state", state}};
  std::string err;
  RedisConn* self = Self(&err);
  if (self != nullptr) (void)self->Command({"HSET", kJobsKey, action, j.dump()});
}

HttpAnswer Agent::Progress(const HttpRequest& req) {
  const auto q = ParseQuery(req.query);
  const auto action = q.find("action");
  if (action == q.end() || action->second.empty()) return ErrorAnswer(400, "action: required");
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = echo_actions_.find(action->second); e != echo_actions_.end()) {
    auto f = echoes_.find(e->second);
    if (f == echoes_.end()) return {200, ProgressJson(JobState::kDone, 1.0, "echo removed")};
    if (f->second->filled()) return {200, ProgressJson(JobState::kDone, 1.0, "following")};
    return {200, ProgressJson(JobState::kCopying, 0.0, f->second->last_error())};
  }
  auto it = jobs_.find(action->second);
  if (it == jobs_.end()) return {200, ProgressJson(JobState::kIdle, 0.0, "")};
  const Job& job = it->second;
  if (job.catch_up && job.finished == JobState::kCopying) {
    auto f = echoes_.find(job.range);
    if (f == echoes_.end()) return {200, ProgressJson(JobState::kDone, 1.0, "handed over")};
    if (f->second->filled() && f->second->in_sync()) {
      return {200, ProgressJson(JobState::kDone, 1.0, "pre-warmed copy caught up")};
    }
    return {200, ProgressJson(JobState::kCopying, 0.5,
                              "catching up: echo lag " + std::to_string(f->second->lag_seconds()) +
                                  "s " + f->second->last_error())};
  }
  if (!job.copier) {
    return {200,
            ProgressJson(job.finished, job.finished == JobState::kDone ? 1.0 : 0.0, job.message)};
  }
  const JobState s = job.copier->state();
  return {200, ProgressJson(s, job.copier->progress(),
                            s == JobState::kCopying
                                ? std::to_string(job.copier->keys_moved()) + " keys so far"
                                : job.copier->message())};
}

HttpAnswer Agent::Healthz() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string err;
  if (Self(&err) == nullptr) return ErrorAnswer(503, "own shard unreachable: " + err);
  return {200, R"({"status":"ok"})"};
}

Result<void> Agent::Restore() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string err;
  RedisConn* self = Self(&err);
  if (self == nullptr) return unexpected(Error{"restore: " + err});
  auto all = self->Command({"HGETALL", kJobsKey});
  if (!all) return unexpected(Error{"restore: " + all.error().message});
  for (std::size_t i = 0; i + 1 < all->elements.size(); i += 2) {
    const std::string& action = all->elements[i].str;
    const Json j = Json::parse(all->elements[i + 1].str, nullptr, false);
    if (j.is_discarded() || !j.contains("request") || !j.contains("hook")) continue;
    auto hook = ParseHookName(j.value("hook", ""));
    auto r = ParseHookRequest(j["request"].dump());
    if (!hook || !r) continue;
    const std::string state = j.value("state", "");
    if (*hook == Hook::kEchoAdd) {
      if (state == "following") StartEcho(*r);
      continue;
    }
    if (state == "catching-up") {
      jobs_[action] = Job{*hook, r->range, nullptr, JobState::kCopying, "", /*catch_up=*/true};
      continue;
    }
    if (state == "copying") {
      spdlog::info("restore: resuming {} of action {} (range {})", HookName(*hook), action,
                   r->range);
      StartMoveJob(*hook, *r);
    } else {
      auto s = ParseJobState(state);
      jobs_[action] =
          Job{*hook, r->range, nullptr, s ? *s : JobState::kFailed, j.value("message", "restored")};
    }
  }
  return {};
}

}  // namespace shardcast::agent
