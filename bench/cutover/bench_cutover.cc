// Write unavailability of a moving range through shardcast-router (issue 12
// item 7), in one run. Two redis-server shards A and B with an agent each,
// one shardcast-router following a routing file. Writers send
// sequence-numbered SETs to keys of range 0 through the router: first with
// no move (the baseline), then while range 0 moves A -> B with the agent's
// hooks. Every write's time is measured from its first attempt to its
// acknowledgement, retries included; an error reply counts as an error
// returned to a client and the write is retried. At the end every key is
// read back through the router and on B: a key whose value is not the last
// acknowledged one is a lost acknowledged write.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/hash.h"
#include "bench/agent/proc_stats.h"
#include "tests/support/processes.h"

using namespace shardcast::testsupport;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

constexpr int kRanges = 4;
constexpr std::uint32_t kEnd0 = 1073741823u;  // range 0 of the equal split into 4

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The routing document (docs/routing.md): equal split into 4, even ranges
// on A, odd on B, except range 0 whose owner is `owner0`.
void WriteRouting(const std::filesystem::path& path, std::int64_t epoch, const RedisServer& a,
                  const RedisServer& b, bool zero_on_b) {
  Json ranges = Json::array();
  for (std::uint64_t i = 0; i < kRanges; ++i) {
    const bool on_b = i % 2 == 1 || (i == 0 && zero_on_b);
    ranges.push_back({{"id", i},
                      {"start", (i << 32) / kRanges},
                      {"end", ((i + 1) << 32) / kRanges - 1},
                      {"owner", on_b ? "kv-1" : "kv-0"},
                      {"endpoint", on_b ? b.endpoint() : a.endpoint()},
                      {"state", "stable"},
                      {"source", nullptr},
                      {"target", nullptr},
                      {"shadowFraction", 0},
                      {"echoes", Json::array()}});
  }
  const Json doc = {{"schemaVersion", 1},
                    {"shardSet", "kv"},
                    {"epoch", epoch},
                    {"hash", "fnv1a64-high32"},
                    {"ranges", ranges}};
  const auto tmp = path.string() + ".tmp";
  std::ofstream(tmp) << doc.dump();
  std::filesystem::rename(tmp, path);  // a new inode: the router sees it at its next poll
}

std::vector<std::string> RangeKeys(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; static_cast<int>(out.size()) < n; ++i) {
    const std::string k = prefix + std::to_string(i);
    if (shardcast::agent::KeyInRange(k, 0, kEnd0)) out.push_back(k);
  }
  return out;
}

// `keys` keys of 100 B in range 0, written straight to the shard.
void Fill(int port, int keys) {
  redisContext* ctx = redisConnect("127.0.0.1", port);
  const std::string value(100, 'v');
  int sent = 0, pending = 0;
  for (int i = 0; sent < keys; ++i) {
    const std::string k = "fill:" + std::to_string(i);
    if (!shardcast::agent::KeyInRange(k, 0, kEnd0)) continue;
    redisAppendCommand(ctx, "SET %b %b", k.data(), k.size(), value.data(), value.size());
    ++sent;
    if (++pending == 1000 || sent == keys) {
      for (; pending > 0; --pending) {
        void* r = nullptr;
        redisGetReply(ctx, &r);
        freeReplyObject(r);
      }
    }
  }
  redisFree(ctx);
}

struct Sample {
  Clock::time_point start;
  double ms = 0;
  int errors = 0;  // error replies (or broken connections) before the ack
};

// One writer: its own connection to the router, its own keys, paced at
// `rate` writes per second (closed loop: never two writes in flight).
class Writer {
 public:
  Writer(int id, int router_port, double rate, std::vector<std::string> keys)
      : id_(id), port_(router_port), rate_(rate), keys_(std::move(keys)), acked_(keys_.size()) {}
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<Sample>& samples() const { return samples_; }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<std::string>& acked() const { return acked_; }
  std::string last_error() const { return last_error_; }

 private:
  redisContext* Connect() {
    timeval tv{10, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err == 0) redisSetTimeout(c, tv);
    return c;
  }
  void Run() {
    redisContext* c = Connect();
    const auto period = std::chrono::duration<double>(1.0 / rate_);
    auto next = Clock::now();
    for (std::int64_t seq = 1; !stop_; ++seq) {
      next += std::chrono::duration_cast<Clock::duration>(period);
      if (next > Clock::now()) std::this_thread::sleep_until(next);
      const std::size_t i = static_cast<std::size_t>(seq) % keys_.size();
      const std::string value = std::to_string(id_) + ":" + std::to_string(seq);
      Sample s{Clock::now(), 0, 0};
      while (true) {
        if (c == nullptr || c->err != 0) {
          if (c != nullptr) redisFree(c);
          c = Connect();
        }
        auto* r = static_cast<redisReply*>(redisCommand(
            c, "SET %b %b", keys_[i].data(), keys_[i].size(), value.data(), value.size()));
        const bool ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
        if (!ok) {
          ++s.errors;
          last_error_ = r != nullptr && r->str != nullptr ? std::string(r->str, r->len)
                                                          : std::string("connection error");
        }
        if (r != nullptr) freeReplyObject(r);
        if (ok) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      s.ms = Ms(Clock::now() - s.start);
      acked_[i] = value;
      samples_.push_back(s);
    }
    if (c != nullptr) redisFree(c);
  }

  int id_;
  int port_;
  double rate_;
  std::vector<std::string> keys_;
  std::vector<std::string> acked_;
  std::vector<Sample> samples_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string last_error_;
};

struct Stats {
  std::size_t writes = 0;
  double p50 = 0, p99 = 0, max = 0;
  std::size_t retried = 0;  // writes that saw at least one error
  std::size_t errors = 0;   // error replies returned to clients
};

Stats Summarize(const std::vector<Writer*>& writers, Clock::time_point from, Clock::time_point to) {
  std::vector<double> ms;
  Stats st;
  for (const Writer* w : writers) {
    for (const Sample& s : w->samples()) {
      if (s.start < from || s.start >= to) continue;
      ms.push_back(s.ms);
      st.errors += static_cast<std::size_t>(s.errors);
      st.retried += s.errors > 0 ? 1 : 0;
    }
  }
  st.writes = ms.size();
  if (ms.empty()) return st;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1,
                       static_cast<std::size_t>(q * static_cast<double>(ms.size())))];
  };
  st.p50 = at(0.50);
  st.p99 = at(0.99);
  st.max = ms.back();
  return st;
}

void Row(const char* arm, double seconds, const Stats& s) {
  std::printf("| %-44s | %6.1f | %7zu | %7.2f | %7.2f | %8.2f | %7zu | %6zu |\n", arm, seconds,
              s.writes, s.p50, s.p99, s.max, s.retried, s.errors);
}

std::string HookBody(const RedisServer& a, const RedisServer& b) {
  return Json{{"shardSet", "kv"},
              {"action", "bench-move-0"},
              {"range", 0},
              {"start", 0},
              {"end", kEnd0},
              {"source", "kv-0"},
              {"target", "kv-1"},
              {"sourceEndpoint", a.endpoint()},
              {"targetEndpoint", b.endpoint()},
              {"epoch", 2},
              {"fencingToken", 1}}
      .dump();
}

bool Check(const HttpResult& r, const char* step) {
  if (r.status >= 200 && r.status < 300) return true;
  std::fprintf(stderr, "%s: HTTP %d %s\n", step, r.status, r.body.c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const int fill = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int writers_n = argc > 2 ? std::atoi(argv[2]) : 8;
  const double rate = argc > 3 ? std::atof(argv[3]) : 500;
  const double baseline_s = argc > 4 ? std::atof(argv[4]) : 10;
  const std::string copy_rate = argc > 5 ? argv[5] : "0";  // the agent's --copy-rate
  const auto root = MakeTempDir("bench-cutover");
  int rc = 0;
  {
    RedisServer a(root), b(root);
    AgentProcess agent_a(root, a.port());
    AgentProcess agent_b(root, b.port(), {"--copy-rate", copy_rate});
    const auto routing = root / "routing.json";
    WriteRouting(routing, 1, a, b, false);
    const int router_port = FreePort();
    Process router({SHARDCAST_ROUTER_BIN, "--listen", "127.0.0.1:" + std::to_string(router_port),
                    "--routing-file", routing.string(), "--metrics-bind-address", "0", "--threads",
                    "1", "--log-level", "warn"},
                   (root / "router.log").string());
    if (!WaitUntil([&] { return RedisClient(router_port).Cmd({"PING"}).str == "PONG"; })) {
      std::fprintf(stderr, "router did not answer; log in %s\n", root.c_str());
      return 1;
    }
    Fill(a.port(), fill);

    std::vector<std::unique_ptr<Writer>> owned;
    std::vector<Writer*> writers;
    for (int i = 0; i < writers_n; ++i) {
      owned.push_back(std::make_unique<Writer>(i, router_port, rate,
                                               RangeKeys("w" + std::to_string(i) + ":", 16)));
      writers.push_back(owned.back().get());
    }
    for (Writer* w : writers) w->Start();
    const auto t_base = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(baseline_s));

    // The move, step by step, as the operator drives it.
    const std::string body = HookBody(a, b);
    const double cpu0 = shardcast::bench::CpuSeconds(agent_b.pid());
    const auto t_prepare = Clock::now();
    bool ok = Check(agent_b.Post("prepare", body), "prepare") &&
              Check(agent_b.Post("copy", body), "copy");
    ok = ok && WaitUntil(
                   [&] {
                     auto r = agent_b.Get("/shardcast/progress?action=bench-move-0&range=0");
                     return r.body.find("\"done\"") != std::string::npos ||
                            r.body.find("\"failed\"") != std::string::npos;
                   },
                   std::chrono::minutes(10));
    const auto t_copied = Clock::now();
    const double agent_cpu = shardcast::bench::CpuSeconds(agent_b.pid()) - cpu0;
    const auto t_cutover = Clock::now();
    ok = ok && Check(agent_b.Post("cutover", body), "cutover");
    const auto t_cut_done = Clock::now();
    WriteRouting(routing, 2, a, b, true);
    const auto t_routed = Clock::now();
    ok = ok && Check(agent_a.Post("release", body), "release");
    const auto t_released = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    for (Writer* w : writers) w->Stop();
    const auto t_end = Clock::now();
    if (!ok) rc = 1;

    std::printf(
        "| arm | seconds | writes | p50 ms | p99 ms | max ms | retried writes | errors to "
        "clients |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    auto secs = [](Clock::time_point f, Clock::time_point t) { return Ms(t - f) / 1000; };
    Row("baseline: same writes, no move", secs(t_base, t_prepare),
        Summarize(writers, t_base, t_prepare));
    Row("move: prepare -> release + 2 s", secs(t_prepare, t_end),
        Summarize(writers, t_prepare, t_end));
    Row("move: copy (prepare -> copy done)", secs(t_prepare, t_copied),
        Summarize(writers, t_prepare, t_copied));
    const auto cut_to = t_routed + std::chrono::seconds(1);
    Row("move: cutover -> routing update + 1 s", secs(t_cutover, cut_to),
        Summarize(writers, t_cutover, cut_to));

    // Every acknowledged write must be readable: through the router and on B.
    RedisClient via(router_port), on_b(b.port()), on_a(a.port());
    std::size_t keys = 0, lost = 0, lost_direct = 0;
    for (const Writer* w : writers) {
      for (std::size_t i = 0; i < w->keys().size(); ++i) {
        if (w->acked()[i].empty()) continue;
        ++keys;
        if (via.Cmd({"GET", w->keys()[i]}).str != w->acked()[i]) ++lost;
        if (on_b.Cmd({"GET", w->keys()[i]}).str != w->acked()[i]) ++lost_direct;
      }
    }
    const auto left_on_a = on_a.Cmd({"EVAL", "return #redis.call('KEYS', 'fill:*')", "0"}).integer;
    const auto fill_on_b = on_b.Cmd({"EVAL", "return #redis.call('KEYS', 'fill:*')", "0"}).integer;
    if (lost > 0 || lost_direct > 0 || left_on_a != 0 || fill_on_b != fill) rc = 1;
    std::size_t total = 0;
    for (const Writer* w : writers) total += w->samples().size();
    std::printf(
        "\nwriters %d x %.0f writes/s, %d background keys (100 B) in the range, --copy-rate %s; "
        "copy %.2f s, cutover hook %.1f ms, routing file written %.1f ms after it, release %.1f "
        "ms\n",
        writers_n, rate, fill, copy_rate.c_str(), secs(t_prepare, t_copied),
        Ms(t_cut_done - t_cutover), Ms(t_routed - t_cut_done), Ms(t_released - t_routed));
    std::printf(
        "acknowledged writes %zu; keys checked %zu; lost acknowledged writes: %zu via the router, "
        "%zu on the new owner; background keys on B %lld of %d, left on A %lld\n",
        total, keys, lost, lost_direct, static_cast<long long>(fill_on_b), fill,
        static_cast<long long>(left_on_a));
    std::printf("target agent during the move: %.3f CPU s over the copy, peak RSS %ld MiB\n",
                agent_cpu, shardcast::bench::PeakRssKiB(agent_b.pid()) / 1024);
    for (const Writer* w : writers) {
      if (!w->last_error().empty()) std::printf("writer last error: %s\n", w->last_error().c_str());
    }
  }
  if (rc == 0) std::filesystem::remove_all(root);
  return rc;
}
