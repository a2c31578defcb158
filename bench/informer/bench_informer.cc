// Informer benchmark (issue 2): list+watch 10,000 Pods on the local control
// plane. Prints, side by side with a baseline (a plain paginated list with
// no cache, and the process RSS before the cache existed):
//   - time to the first full sync
//   - watch events processed per second under a stream of updates
//   - RSS of the cache
// Usage: bench_informer --kubeconfig PATH [--pods 10000] [--updates 20000] [--writers 8]
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "operator/kube/client.h"
#include "operator/kube/informer.h"
#include "operator/kube/kubeconfig.h"

using namespace shardcast::kube;
using Clock = std::chrono::steady_clock;

namespace {

double RssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double Secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::shared_ptr<Client> Connect(const std::string& kubeconfig) {
  auto cfg = LoadKubeconfigFile(kubeconfig);
  if (!cfg) {
    std::cerr << cfg.error().message << "\n";
    std::exit(2);
  }
  auto t = MakeHttpTransport(*cfg);
  if (!t) {
    std::cerr << t.error().to_string() << "\n";
    std::exit(2);
  }
  return std::make_shared<Client>(*t);
}

}  // namespace

int main(int argc, char** argv) {
  // As the operator's main() does: glibc's per-thread arenas otherwise hold
  // on to the memory of large responses parsed on cpprestsdk's threads.
  mallopt(M_ARENA_MAX, 2);
  std::string kubeconfig;
  int pods = 10000;
  int updates = 20000;
  int writers = 8;
  bool list_from_cache = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--kubeconfig")
      kubeconfig = argv[i + 1];
    else if (a == "--pods")
      pods = std::stoi(argv[i + 1]);
    else if (a == "--updates")
      updates = std::stoi(argv[i + 1]);
    else if (a == "--writers")
      writers = std::stoi(argv[i + 1]);
    else if (a == "--list-from-cache")
      list_from_cache = std::string(argv[i + 1]) != "0";
  }
  if (kubeconfig.empty()) {
    std::cerr << "usage: bench_informer --kubeconfig PATH [--pods N] [--updates N] [--writers N]\n";
    return 2;
  }
  const std::string ns = "bench-informer";
  auto client = Connect(kubeconfig);
  (void)client->create(
      resources::kNamespaces, "",
      Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});

  // Nodes to pin pods to (skips the scheduler; KWOK runs them).
  auto nodes = client->ListAll(resources::kNodes, "", ListOptions{"type=kwok", "", 0, "", "", {}});
  if (!nodes || nodes->items.empty()) {
    std::cerr << "no KWOK nodes (label type=kwok)\n";
    return 1;
  }
  std::vector<std::string> node_names;
  for (auto& n : nodes->items) node_names.push_back(n["metadata"]["name"]);

  auto existing = client->ListAll(resources::kPods, ns, ListOptions{"", "", 500, "", "", {}});
  int have = existing ? static_cast<int>(existing->items.size()) : 0;
  if (have < pods) {
    std::cout << "creating " << (pods - have) << " pods with " << writers << " writers...\n";
    auto t0 = Clock::now();
    std::atomic<int> next{have};
    std::vector<std::thread> ts;
    for (int w = 0; w < writers; ++w) {
      ts.emplace_back([&] {
        auto c = Connect(kubeconfig);
        for (int i = next++; i < pods; i = next++) {
          Json pod = {{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata",
                       {{"name", "p-" + std::to_string(i)},
                        {"namespace", ns},
                        {"labels", {{"app", "bench"}}}}},
                      {"spec",
                       {{"nodeName", node_names[i % node_names.size()]},
                        {"containers", Json::array({{{"name", "c"}, {"image", "fake"}}})}}}};
          (void)c->create(resources::kPods, ns, pod);
        }
      });
    }
    for (auto& t : ts) t.join();
    std::cout << "  created in " << Secs(t0, Clock::now()) << " s\n";
  }

  // Baseline: one paginated list with no cache.
  malloc_trim(0);
  double rss_before = RssMb();
  auto b0 = Clock::now();
  {
    auto l = client->ListAll(resources::kPods, ns, ListOptions{"", "", 500, "", "", {}});
    if (!l) {
      std::cerr << l.error().to_string() << "\n";
      return 1;
    }
  }
  double list_secs = Secs(b0, Clock::now());
  malloc_trim(0);
  double rss_after_list = RssMb();

  // Informer: list + watch, cache indexed.
  InformerOptions io;
  io.namespace_ = ns;
  io.transform = PrunePodForCache;  // as the ShardSet controller configures it
  io.list_prune = PodCacheListPrune();
  io.initial_list_from_cache = list_from_cache;
  Informer inf(client, resources::kPods, io);
  std::atomic<uint64_t> events{0};
  EventHandlers h;
  h.on_update = [&](const ObjectPtr&, const ObjectPtr&) { ++events; };
  h.on_add = [&](const ObjectPtr&) { ++events; };
  inf.AddHandlers(h);
  auto s0 = Clock::now();
  inf.start();
  if (!inf.WaitForSync(std::chrono::minutes(5))) {
    std::cerr << "informer did not sync\n";
    return 1;
  }
  double sync_secs = Secs(s0, Clock::now());
  size_t cached = inf.store().size();
  malloc_trim(0);  // give freed list buffers back, so RSS shows the cache
  double rss_cache = RssMb();
  struct mallinfo2 mi = mallinfo2();
  double heap_in_use_mb = (mi.uordblks + mi.hblkhd) / 1048576.0;
  double heap_free_mb = mi.fordblks / 1048576.0;
  const std::string rv_before_updates = inf.last_resource_version();

  // Update stream: annotation patches from several writers; the informer
  // counts the MODIFIED events it processes.
  uint64_t base_events = events.load();
  std::atomic<int> next{0};
  auto u0 = Clock::now();
  std::vector<std::thread> ws;
  for (int w = 0; w < writers; ++w) {
    ws.emplace_back([&] {
      auto c = Connect(kubeconfig);
      for (int i = next++; i < updates; i = next++) {
        (void)c->patch(resources::kPods, ns, "p-" + std::to_string(i % pods), PatchType::kMerge,
                       Json{{"metadata", {{"annotations", {{"bench", std::to_string(i)}}}}}});
      }
    });
  }
  for (auto& t : ws) t.join();
  double write_secs = Secs(u0, Clock::now());
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (events.load() - base_events < static_cast<uint64_t>(updates) && Clock::now() < deadline) {
    std::this_thread::yield();
  }
  double process_secs = Secs(u0, Clock::now());
  uint64_t got = events.load() - base_events;
  inf.stop();

  // Decode throughput: replay the same update stream from the API server's
  // watch cache (a watch from the resourceVersion before the updates), so the
  // rate measures the client's watch path (stream, decode, prune, cache
  // upsert), not how fast the writers above could write.
  Store replay_store;
  uint64_t replayed = 0;
  auto r0 = Clock::now();
  {
    WatchOptions wo;
    wo.resource_version = rv_before_updates;
    wo.timeout_seconds = 120;
    auto stream = client->watch(resources::kPods, ns, wo);
    if (stream) {
      while (replayed < got) {
        auto ev = (*stream)->next();
        if (!ev || !ev->has_value()) break;
        if ((*ev)->type == WatchEventType::kBookmark) continue;
        Json obj = std::move((*ev)->object);
        obj["metadata"].erase("managedFields");
        PrunePodForCache(obj);
        replay_store.Upsert(std::make_shared<const Json>(std::move(obj)));
        ++replayed;
      }
      (*stream)->cancel();
    } else {
      std::cerr << "replay watch: " << stream.error().to_string() << "\n";
    }
  }
  double replay_secs = Secs(r0, Clock::now());

  std::printf("\n%-44s %14s %14s %10s\n", "metric (10,000-pod target in brackets)", "informer",
              "baseline", "target");
  std::printf("%-44s %14.2f %14.2f %10s\n", "full sync / plain list of all pods (s)", sync_secs,
              list_secs, "<= 5");
  std::printf("%-44s %14.0f %14.0f %10s\n", "live update events per second (write-bound)",
              got / process_secs, updates / write_secs, ">= 2000");
  std::printf("%-44s %14.0f %14s %10s\n", "watch replay: events decoded+cached per second",
              replayed / replay_secs, "-", ">= 2000");
  std::printf("%-44s %14.1f %14.1f %10s\n", "process RSS with cache / before (MB)", rss_cache,
              rss_before, "<= 150");
  size_t cached_bytes = 0;
  for (const auto& o : inf.store().list()) cached_bytes += o->dump().size();
  std::printf("%-44s %14.1f %14.1f %10s\n", "heap in use | free but held, with cache (MB)",
              heap_in_use_mb, heap_free_mb, "-");
  std::printf("%-44s %14.1f %14s %10s\n", "RSS after a plain list, freed (MB)", rss_after_list, "-",
              "-");
  std::printf("%-44s %14.1f %14s %10s\n", "cached objects as JSON text (MB)",
              cached_bytes / 1048576.0, "-", "-");
  std::printf(
      "\npods cached: %zu; updates written: %d in %.2f s; events processed: %llu in %.2f s\n",
      cached, updates, write_secs, static_cast<unsigned long long>(got), process_secs);
  std::printf("replayed %llu events in %.2f s\n", static_cast<unsigned long long>(replayed),
              replay_secs);
  std::printf("(baseline events/s column = the API write rate the %d writers achieved)\n", writers);
  return 0;
}
