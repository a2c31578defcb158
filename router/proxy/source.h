// Where routing documents (and the published load factors) come from: a
// file (a mounted ConfigMap, polled) or the Kubernetes API (a watch on one
// ConfigMap). Both hand each text to a sink (a TableHolder, or the load
// factors) and report each outcome.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "operator/kube/client.h"
#include "router/table.h"
#include "util/expected.h"

namespace shardcast::router::proxy {

using UpdateReporter = std::function<void(const UpdateResult&, const std::string& origin)>;
// Applies one document's text and says what became of it.
using DocumentSink = std::function<UpdateResult(const std::string& text)>;

// The sink of routing documents: holder->Update(text).
DocumentSink SinkInto(TableHolder* holder);

class RoutingSource {
 public:
  virtual ~RoutingSource() = default;
  virtual void Start() = 0;
  virtual void Stop() = 0;
  // Re-reads the source now, from any thread (after MOVED). May be a no-op
  // when the source is a live watch.
  virtual void ReloadNow() = 0;
};

class FileSource : public RoutingSource {
 public:
  FileSource(std::string path, TableHolder* holder, UpdateReporter report,
             std::chrono::milliseconds poll = std::chrono::milliseconds(200));
  FileSource(std::string path, DocumentSink sink, UpdateReporter report,
             std::chrono::milliseconds poll = std::chrono::milliseconds(200));
  ~FileSource() override;
  void Start() override;
  void Stop() override;
  void ReloadNow() override;

 private:
  void Loop();
  void Check(bool force);

  std::string path_;
  DocumentSink sink_;
  UpdateReporter report_;
  std::chrono::milliseconds poll_;
  std::mutex mu_;
  std::string last_stamp_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Watches data[key] ("routing.json" unless given) of ConfigMap `ns/name`
// through operator/kube (kubeconfig from $KUBECONFIG or ~/.kube/config,
// else in-cluster).
class ConfigMapSource : public RoutingSource {
 public:
  ConfigMapSource(std::string ns, std::string name, std::string kubeconfig, TableHolder* holder,
                  UpdateReporter report);
  ConfigMapSource(std::string ns, std::string name, std::string key, std::string kubeconfig,
                  DocumentSink sink, UpdateReporter report);
  // With a ready client (tests: a fake transport); Init() is then not needed.
  ConfigMapSource(std::string ns, std::string name, std::shared_ptr<kube::Client> client,
                  TableHolder* holder, UpdateReporter report);
  ConfigMapSource(std::string ns, std::string name, std::string key,
                  std::shared_ptr<kube::Client> client, DocumentSink sink, UpdateReporter report);
  ~ConfigMapSource() override;
  // Loads the client configuration; the error names the problem.
  [[nodiscard]] Result<void> Init();
  void Start() override;
  void Stop() override;
  void ReloadNow() override {}

 private:
  void Loop();
  void Pause(std::chrono::milliseconds d);
  std::shared_ptr<kube::Client> client_;
  std::mutex watch_mu_;
  kube::WatchStream* watch_ = nullptr;  // the open watch, cancelled by Stop()
  std::string ns_, name_, key_, kubeconfig_;
  DocumentSink sink_;
  UpdateReporter report_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shardcast::router::proxy
