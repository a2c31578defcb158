// `shardcast backfill` (see operator/cmd/backfill.h and docs/demo.md).
//
//   shardcast backfill --kubeconfig K --namespace NS --shardset NAME
//       [--metric cpu|rps|mem|range] --series POD=FILE.csv [--series POD=FILE.csv ...]
//
// Each CSV is `timestamp,value` with a header (unix seconds or RFC3339). The
// operator must not be running for this ShardSet (its next save would replace
// the ConfigMap); run it before `shardcast run`.
#include "operator/cmd/backfill.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "controllers/forecast/persist.h"
#include "operator/cmd/flags.h"
#include "operator/kube/client.h"
#include "operator/kube/kubeconfig.h"
#include "operator/kube/transport.h"

namespace shardcast::cli {

namespace {

constexpr const char* kBackfillUsage =
    R"(usage: shardcast backfill --shardset NAME --series POD=FILE.csv [...]

Seeds the forecast history ConfigMap <shardset>-history before the operator
starts. CSV: header line, then `timestamp,value` (unix seconds or RFC3339).

flags:
  --kubeconfig PATH     kubeconfig file [KUBECONFIG]; default: in-cluster, then ~/.kube/config
  --context NAME        kubeconfig context
  --namespace NS        namespace of the ShardSet (default "default")
  --shardset NAME       the ShardSet (required)
  --metric NAME         cpu (millicores, default), rps (requests/s), mem (bytes), or
                        range (a key range's requests/s; --series RANGE_ID=FILE)
  --series POD=FILE     a pod's (or range's) samples; repeat for several (at least one)
)";

int Bad(const std::string& msg) {
  std::cerr << "shardcast backfill: " << msg << "\n";
  return 2;
}

}  // namespace

int BackfillMain(int argc, char** argv) {
  std::string kubeconfig, context, ns = "default", shardset, metric = "cpu";
  std::vector<std::pair<std::string, std::string>> series;  // pod, file
  for (int i = 1; i < argc; ++i) {
    FlagArg flag = SplitFlag(argv[i]);
    std::string& a = flag.name;
    std::string& value = flag.value;
    const bool has_value = flag.has_value;
    if (a == "-h" || a == "--help") {
      std::cout << kBackfillUsage;
      return 0;
    }
    if (!has_value) {
      if (i + 1 >= argc) return Bad("flag " + a + " needs a value");
      value = argv[++i];
    }
    if (a == "--kubeconfig") {
      kubeconfig = value;
    } else if (a == "--context") {
      context = value;
    } else if (a == "--namespace") {
      ns = value;
    } else if (a == "--shardset") {
      shardset = value;
    } else if (a == "--metric") {
      metric = value;
    } else if (a == "--series") {
      auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
        return Bad("--series must be POD=FILE, not '" + value + "'");
      }
      series.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else {
      return Bad("unknown flag '" + a + "' (try --help)");
    }
  }
  if (shardset.empty()) return Bad("--shardset is required");
  if (series.empty()) return Bad("at least one --series POD=FILE is required");
  if (!forecast::IsSeedMetric(metric)) {
    return Bad(std::string("--metric must be ") + forecast::kSeedMetrics + ", not '" + metric +
               "'");
  }
  // Read every file first: a bad file fails before anything is written.
  std::vector<std::string> texts;
  for (const auto& [pod, file] : series) {
    std::ifstream f(file, std::ios::binary);
    if (!f) return Bad("--series " + pod + "=" + file + ": cannot open");
    std::stringstream ss;
    ss << f.rdbuf();
    texts.push_back(ss.str());
  }

  auto cfg = kube::LoadDefault(kubeconfig, context);
  if (!cfg) return Bad(cfg.error().message);
  auto transport = kube::MakeHttpTransport(*cfg);
  if (!transport) return Bad(transport.error().message);
  kube::Client client(*transport);
  size_t total = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    auto n = forecast::BackfillFromCsv(client, ns, shardset, series[i].first, metric, texts[i]);
    if (!n) {
      std::cerr << "shardcast backfill: " << series[i].second << ": " << n.error().message << "\n";
      // A CSV error is bad input; anything else came from the cluster.
      return n.error().message.find("line") != std::string::npos ? 2 : 1;
    }
    total += *n;
    std::cout << "backfilled " << *n << " samples of " << metric << "." << series[i].first
              << " from " << series[i].second << "\n";
  }
  std::cout << "history ConfigMap " << ns << "/" << forecast::HistoryConfigMapName(shardset) << ": "
            << total << " samples added\n";
  return 0;
}

}  // namespace shardcast::cli
