// What keeping an echo in sync costs, per logged write, against what serving
// the write costs its owner, in one run. For each write rate and batch size,
// fresh processes: the owner's redis-server serves writes through the shard
// script (EVALSHA, `batch` commands a call, as the router sends them) for a
// while without an echo (the baseline), then the same writes again while a
// shardcast-agent keeps an echo of the range on a second redis-server, once
// applying each log read at once (--echo-pace 0, as before pacing) and once
// at the default pace. CPU comes from /proc (10 ms ticks: short runs are
// noisy). The ratios are what the planner's migration.echoSyncCost
// stands for (docs/planner.md): the echo pod's CPU (its redis-server and
// agent) per logged write over the owner's CPU per write without an echo.
//   bench/agent/run-echo.sh [SECONDS]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/hash.h"
#include "bench/agent/proc_stats.h"
#include "tests/support/dataplane_client.h"
#include "tests/support/processes.h"

using namespace shardcast::testsupport;
using shardcast::bench::CpuSeconds;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

constexpr std::uint32_t kEnd = 2147483647u;  // range 2: half of the hash space

std::vector<std::string> Keys(int n) {
  std::vector<std::string> out;
  for (int i = 0; static_cast<int>(out.size()) < n; ++i) {
    const std::string k = "s:" + std::to_string(i);
    if (shardcast::agent::KeyInRange(k, 0, kEnd)) out.push_back(k);
  }
  return out;
}

// Sends `rate` SETs a second for `seconds`, `batch` per script call; returns
// the writes acknowledged.
long Write(int port, const std::string& sha, const std::vector<std::string>& keys, double rate,
           int batch, double seconds) {
  RedisClient c(port);
  const std::string value(32, 'v');
  const long header = 3L * 65536 + 8 + 2;  // SET key value, range index 1, write
  const auto t0 = Clock::now();
  const auto every = std::chrono::duration<double>(batch / rate);
  long sent = 0, acked = 0;
  for (long call = 0;; ++call) {
    const auto due = t0 + std::chrono::duration_cast<Clock::duration>(every * call);
    if (due - t0 > std::chrono::duration<double>(seconds)) break;
    std::this_thread::sleep_until(due);
    std::vector<std::string> cmd = {
        "EVALSHA", sha, "2", "__shardcast:range:2", "__shardcast:wlog:2", "1"};
    for (int j = 0; j < batch; ++j, ++sent) {
      cmd.insert(cmd.end(), {std::to_string(header), "SET",
                             keys[static_cast<std::size_t>(sent) % keys.size()], value});
    }
    auto r = c.Cmd(cmd);
    if (r.type == REDIS_REPLY_ARRAY) {
      for (auto& e : r.elements) acked += e.err() ? 0 : 1;
    }
  }
  return acked;
}

struct Row {
  double base_us = 0, owner_us = 0, echo_us = 0;
  long writes = 0;
};

Row Measure(const std::filesystem::path& root, double rate, int batch, double seconds,
            const std::string& pace) {
  RedisServer owner(root), echo(root);
  AgentProcess agent(root, echo.port(), {"--echo-bound", "1s", "--echo-pace", pace});
  RedisClient o(owner.port());
  const std::string sha = o.Cmd({"SCRIPT", "LOAD", ProtocolLuaScript()}).str;
  const auto keys = Keys(10000);
  Write(owner.port(), sha, keys, rate, batch, 1.0);  // every key exists, caches warm
  Row row;
  double c0 = CpuSeconds(owner.pid());
  const long base_writes = Write(owner.port(), sha, keys, rate, batch, seconds);
  row.base_us = (CpuSeconds(owner.pid()) - c0) / static_cast<double>(base_writes) * 1e6;

  const std::string body = Json{
      {"shardSet", "bench"},
      {"action", "echo-1"},
      {"range", 2},
      {"start", 0},
      {"end", kEnd},
      {"source", "kv-0"},
      {"target", "kv-1"},
      {"sourceEndpoint", owner.endpoint()},
      {"targetEndpoint", echo.endpoint()},
      {"epoch", 1},
      {"fencingToken", 1}}.dump();
  agent.Post("echo-add", body);
  WaitUntil([&] {
    auto p =
        Json::parse(agent.Get("/shardcast/progress?action=echo-1&range=2").body, nullptr, false);
    return p.is_object() && p.value("state", "") == "done";
  });
  c0 = CpuSeconds(owner.pid());
  const double e0 = CpuSeconds(echo.pid()) + CpuSeconds(agent.pid());
  row.writes = Write(owner.port(), sha, keys, rate, batch, seconds);
  // The follower applies what it has read; give it its bound to catch up.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double n = static_cast<double>(row.writes);
  row.owner_us = (CpuSeconds(owner.pid()) - c0) / n * 1e6;
  row.echo_us = (CpuSeconds(echo.pid()) + CpuSeconds(agent.pid()) - e0) / n * 1e6;
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 8.0;
  const auto root = MakeTempDir("bench-echo");
  std::printf(
      "| writes/s | commands per script call | --echo-pace | owner CPU per write, no echo "
      "(baseline) | owner CPU per write, with echo | echo pod CPU per write (redis + agent) | "
      "echo / baseline | owner extra / baseline |\n|---|---|---|---|---|---|---|---|\n");
  for (double rate : {500.0, 2000.0, 8000.0}) {
    for (int batch : {1, 20}) {
      if (batch == 1 && rate > 4000) continue;  // one call per write cannot keep the pace
      for (const char* pace : {"0", "50ms"}) {
        const Row r = Measure(root, rate, batch, seconds, pace);
        std::printf("| %.0f | %d | %s | %.1f us | %.1f us | %.1f us | %.2f | %.2f |\n", rate, batch,
                    pace, r.base_us, r.owner_us, r.echo_us, r.echo_us / r.base_us,
                    (r.owner_us - r.base_us) / r.base_us);
        std::fflush(stdout);
      }
    }
  }
  std::filesystem::remove_all(root);
  return 0;
}
