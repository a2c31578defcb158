// Records Kubernetes Events (core/v1) about objects, folding repeats of the
// same event into a count like client-go's correlator.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "operator/kube/client.h"

namespace shardcast::kube {

enum class EventType { kNormal, kWarning };

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void record(const Json& involved, EventType type, const std::string& reason,
                      const std::string& message) = 0;
};

class EventRecorder final : public EventSink {
 public:
  EventRecorder(std::shared_ptr<Client> client, std::string component, std::string instance);
  // Never fails loudly: an Event is best-effort, so errors are logged.
  void record(const Json& involved, EventType type, const std::string& reason,
              const std::string& message) override;

  // Builds the Event object; pure, exposed for tests.
  static Json BuildEvent(const Json& involved, EventType type, const std::string& reason,
                         const std::string& message, const std::string& component,
                         const std::string& instance, const std::string& timestamp,
                         const std::string& name);

 private:
  struct Seen {
    std::string ns;
    std::string name;
    int count = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::shared_ptr<Client> client_;
  std::string component_;
  std::string instance_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;
};

// RFC 3339 UTC timestamps as the API uses them.
std::string NowRfc3339();
std::string NowMicroTime();

}  // namespace shardcast::kube
