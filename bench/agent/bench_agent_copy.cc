// Copy throughput of shardcast-agent against plain MIGRATE loops over the
// same keys, in one run: for each data set, the source is filled, moved to
// the target, and emptied again for the next arm. Prints one table row per
// arm, and the agent's CPU seconds and peak RSS.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/agent/proc_stats.h"
#include "tests/support/processes.h"

using namespace shardcast::testsupport;
using shardcast::bench::CpuSeconds;
using shardcast::bench::PeakRssKiB;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

void Fill(int port, int keys, int size) {
  RedisClient c(port);
  c.Cmd({"FLUSHALL"});
  redisContext* ctx = redisConnect("127.0.0.1", port);
  const std::string value(static_cast<std::size_t>(size), 'v');
  for (int i = 0; i < keys; i += 1000) {
    const int n = std::min(1000, keys - i);
    for (int j = 0; j < n; ++j) {
      const std::string k = "bench:" + std::to_string(i + j);
      redisAppendCommand(ctx, "SET %b %b", k.data(), k.size(), value.data(), value.size());
    }
    for (int j = 0; j < n; ++j) {
      void* r = nullptr;
      redisGetReply(ctx, &r);
      freeReplyObject(r);
    }
  }
  redisFree(ctx);
}

std::vector<std::string> AllKeys(RedisClient& c) {
  std::vector<std::string> out;
  std::string cursor = "0";
  do {
    auto r = c.Cmd({"SCAN", cursor, "COUNT", "1000"});
    cursor = r.elements[0].str;
    for (auto& k : r.elements[1].elements) out.push_back(k.str);
  } while (cursor != "0");
  return out;
}

// SCAN, then MIGRATE `batch` keys per call.
double MigrateLoop(int src, int dst, int batch) {
  RedisClient c(src);
  const auto t0 = Clock::now();
  const auto keys = AllKeys(c);
  for (std::size_t i = 0; i < keys.size(); i += batch) {
    std::vector<std::string> argv = {"MIGRATE", "127.0.0.1", std::to_string(dst), "",
                                     "0",       "5000",      "REPLACE",           "KEYS"};
    for (std::size_t j = i; j < std::min(keys.size(), i + batch); ++j) argv.push_back(keys[j]);
    auto r = c.Cmd(argv);
    if (r.err()) std::cerr << "MIGRATE: " << r.str << "\n";
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct AgentRun {
  double seconds = 0;
  double cpu = 0;
  long rss_kib = 0;
};

AgentRun AgentCopy(const std::filesystem::path& root, const RedisServer& src,
                   const RedisServer& dst, int batch, const std::string& action) {
  AgentProcess agent(root, dst.port(), {"--copy-batch", std::to_string(batch)});
  const pid_t pid = agent.pid();
  const double cpu0 = CpuSeconds(pid);
  const std::string body = Json{
      {"shardSet", "bench"},
      {"action", action},
      {"range", 0},
      {"start", 0},
      {"end", 4294967295u},
      {"source", "a"},
      {"target", "b"},
      {"sourceEndpoint", src.endpoint()},
      {"targetEndpoint", dst.endpoint()},
      {"epoch", 1},
      {"fencingToken", 1}}.dump();
  const auto t0 = Clock::now();
  agent.Post("prepare", body);
  agent.Post("copy", body);
  WaitUntil(
      [&] {
        auto r = agent.Get("/shardcast/progress?action=" + action + "&range=0");
        return r.body.find("\"done\"") != std::string::npos ||
               r.body.find("\"failed\"") != std::string::npos;
      },
      std::chrono::minutes(10));
  AgentRun run;
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  run.cpu = CpuSeconds(pid) - cpu0;
  run.rss_kib = PeakRssKiB(pid);
  return run;
}

void Row(const std::string& set, const std::string& arm, int keys, int size, double s,
         const std::string& extra) {
  std::printf("| %-16s | %-34s | %8.2f | %10.0f | %7.1f | %s |\n", set.c_str(), arm.c_str(), s,
              keys / s, static_cast<double>(keys) * size / s / 1e6, extra.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const int big = argc > 1 ? std::atoi(argv[1]) : 200000;
  const int small = argc > 2 ? std::atoi(argv[2]) : 20000;
  const auto root = MakeTempDir("bench-agent");
  {
    RedisServer src(root), dst(root);
    std::printf("| data set | arm | seconds | keys/s | MB/s (values) | agent CPU s / peak RSS |\n");
    std::printf("|---|---|---|---|---|---|\n");
    int n = 0;
    for (auto [keys, size] : {std::pair{big, 100}, std::pair{small, 4096}}) {
      const std::string set =
          std::to_string(keys / 1000) + "k x " +
          (size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B");
      Fill(src.port(), keys, size);
      RedisClient(dst.port()).Cmd({"FLUSHALL"});
      Row(set, "baseline: MIGRATE per key", keys, size, MigrateLoop(src.port(), dst.port(), 1), "");
      Fill(src.port(), keys, size);
      RedisClient(dst.port()).Cmd({"FLUSHALL"});
      Row(set, "baseline: MIGRATE KEYS x100 loop", keys, size,
          MigrateLoop(src.port(), dst.port(), 100), "");
      Fill(src.port(), keys, size);
      RedisClient(dst.port()).Cmd({"FLUSHALL"});
      auto run = AgentCopy(root, src, dst, 100, "bench-" + std::to_string(n++));
      RedisClient d(dst.port());
      const auto moved =
          d.Cmd({"DBSIZE"}).integer -
          d.Cmd({"EVAL", "return #redis.call('KEYS', '__shardcast:*')", "0"}).integer;
      Row(set, "shardcast-agent copy, batch 100", keys, size, run.seconds,
          std::to_string(run.cpu).substr(0, 5) + " s / " + std::to_string(run.rss_kib / 1024) +
              " MiB (" + std::to_string(moved) + " keys on target)");
    }
  }
  std::filesystem::remove_all(root);
  return 0;
}
