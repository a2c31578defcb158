// A kube::EventSink that records the Events a controller emits.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operator/kube/events.h"

namespace shardcast::testing {

class RecordingSink : public kube::EventSink {
 public:
  void record(const nlohmann::json&, kube::EventType type, const std::string& reason,
              const std::string& message) override {
    std::lock_guard<std::mutex> l(mu_);
    events.push_back({type, reason, message});
  }
  struct Ev {
    kube::EventType type;
    std::string reason, message;
  };
  std::vector<Ev> events;
  bool has(const std::string& reason) const {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& e : events) {
      if (e.reason == reason) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
};

}  // namespace shardcast::testing
