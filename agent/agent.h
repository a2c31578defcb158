// The agent's core: routes hook requests, applies fencing and idempotency,
// runs the move and echo steps of docs/dataplane-protocol.md, and owns the
// background jobs (copies, aborts, echo followers). All I/O goes through a
// ConnFactory, so a fake Redis can stand in (tests/support/fake_redis.h).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/copier.h"
#include "agent/echo.h"
#include "agent/http.h"
#include "agent/metrics.h"
#include "agent/redis_conn.h"
#include "agent/request.h"

namespace shardcast::agent {

struct AgentOptions {
  Endpoint redis;  // this agent's own shard
  int copy_batch = 100;
  double copy_rate = 0;  // keys/s, <= 0 unlimited
  std::chrono::milliseconds echo_bound{1000};
  std::chrono::milliseconds echo_pace{50};  // EchoSpec::pace
  std::size_t max_records = 1000;           // recorded action steps kept
  std::uint64_t max_size_samples = 10000;   // MEMORY USAGE calls per range report
};

class Agent {
 public:
  Agent(AgentOptions opts, ConnFactory factory, const AgentMetrics* metrics);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Resumes the jobs persisted in __shardcast:jobs (copies and aborts that
  // were running, echoes that were followed).
  [[nodiscard]] Result<void> Restore();

  HttpAnswer Handle(const HttpRequest& req);

 private:
  HttpAnswer HandleHook(Hook hook, const HttpRequest& req);
  HttpAnswer Execute(Hook hook, const HookRequest& r, RedisConn& self);
  // A move's view from the target: a connection to the source and the
  // range's marker on both shards.
  struct MoveView {
    std::unique_ptr<RedisConn> source;
    std::optional<Marker> target_marker;
    std::optional<Marker> source_marker;
  };
  // Fills `out`; an error answer when the source or a marker cannot be read.
  std::optional<HttpAnswer> ReadMove(const HookRequest& r, RedisConn& self, MoveView* out);
  HttpAnswer Prepare(const HookRequest& r, RedisConn& self);
  HttpAnswer Copy(const HookRequest& r, RedisConn& self);
  HttpAnswer Cutover(const HookRequest& r, RedisConn& self);
  HttpAnswer Release(const HookRequest& r, RedisConn& self);
  HttpAnswer Abort(const HookRequest& r, RedisConn& self);
  // A pre-warmed move (agent/prewarm.cc): the target already echoes the
  // range from the source, so it keeps its copy and only catches up.
  bool PrewarmedMove(const HookRequest& r, const MoveView& v) const;
  HttpAnswer PrepareFromEcho(const HookRequest& r, RedisConn& self);
  HttpAnswer CatchUp(const HookRequest& r);
  HttpAnswer CutoverFromEcho(const HookRequest& r, RedisConn& self, MoveView& v);
  HttpAnswer AbortFromEcho(const HookRequest& r, RedisConn& self, MoveView& v);
  // This range's follower, quiesced (none of its writes lands after) and
  // out of `echoes_`, its persisted echo-add jobs forgotten (a restart does
  // not resume it); joined when the caller drops it. Null when none runs.
  std::unique_ptr<EchoFollower> TakeFollower(std::uint32_t range, RedisConn& self);
  // TakeFollower into `*retired`, the range's echo-add actions forgotten,
  // and the echo unregistered on the owner; an error answer when the owner
  // cannot be reached.
  std::optional<HttpAnswer> DropFollower(const HookRequest& r, RedisConn& self, RedisConn& owner,
                                         std::unique_ptr<EchoFollower>* retired);
  HttpAnswer EchoAdd(const HookRequest& r, RedisConn& self);
  HttpAnswer EchoRemove(const HookRequest& r, RedisConn& self);
  HttpAnswer Progress(const HttpRequest& req);
  HttpAnswer Ranges(const HttpRequest& req);
  // Keys and bytes of each of `ranges` on the own shard, added to `ans`.
  HttpAnswer SizeReport(const std::vector<RangeBounds>& ranges, std::uint64_t max_samples,
                        nlohmann::json ans);
  HttpAnswer Healthz();

  // Starts (or restarts, when missing or failed) the job of a copy/abort.
  void StartMoveJob(Hook hook, const HookRequest& r);
  void StartEcho(const HookRequest& r);
  void PersistJob(const std::string& action, Hook hook, const HookRequest& r,
                  const std::string& state);
  Result<std::unique_ptr<RedisConn>> Connect(const Endpoint& ep);
  // The own shard's connection (reconnects when broken); null on failure.
  RedisConn* Self(std::string* error);
  void Record(RedisConn& self, const std::string& field, const std::string& fingerprint,
              const HttpAnswer& ans);
  void Count(Hook hook, const std::string& result);

  AgentOptions opts_;
  ConnFactory factory_;
  const AgentMetrics* metrics_;
  std::mutex mu_;  // one hook or progress request at a time
  std::unique_ptr<RedisConn> self_;
  struct Job {
    Hook hook = Hook::kCopy;
    std::uint32_t range = 0;
    std::unique_ptr<Copier> copier;
    JobState finished = JobState::kIdle;  // for jobs restored as done/failed
    std::string message;
    bool catch_up = false;  // a pre-warmed copy: done when the echo is caught up
  };
  std::map<std::string, Job> jobs_;                                // by action
  std::map<std::uint32_t, std::unique_ptr<EchoFollower>> echoes_;  // by range
  std::map<std::string, std::uint32_t> echo_actions_;              // echo-add action -> range
};

// A JSON error answer {"error": message}.
HttpAnswer ErrorAnswer(int status, const std::string& message);

}  // namespace shardcast::agent
