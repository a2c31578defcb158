#include "operator/kube/events.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <random>

namespace shardcast::kube {

namespace {

std::string FormatTime(bool micro) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf);
  if (micro) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()) %
              std::chrono::seconds(1);
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%06lld", static_cast<long long>(us.count()));
    out += frac;
  }
  return out + "Z";
}

std::string Field(const Json& obj, const char* a, const char* b = nullptr) {
  const Json* cur = &obj;
  for (const char* key : {a, b}) {
    if (key == nullptr) break;
    if (!cur->is_object()) return {};
    auto it = cur->find(key);
    if (it == cur->end()) return {};
    cur = &*it;
  }
  return cur->is_string() ? cur->get<std::string>() : std::string();
}

}  // namespace

std::string NowRfc3339() { return FormatTime(false); }
std::string NowMicroTime() { return FormatTime(true); }

EventRecorder::EventRecorder(std::shared_ptr<Client> client, std::string component,
                             std::string instance)
    : client_(std::move(client)),
      component_(std::move(component)),
      instance_(std::move(instance)) {}

Json EventRecorder::BuildEvent(const Json& involved, EventType type, const std::string& reason,
                               const std::string& message, const std::string& component,
                               const std::string& instance, const std::string& timestamp,
                               const std::string& name) {
  std::string ns = Field(involved, "metadata", "namespace");
  if (ns.empty()) ns = "default";
  Json ref = {{"apiVersion", Field(involved, "apiVersion")},
              {"kind", Field(involved, "kind")},
              {"name", Field(involved, "metadata", "name")},
              {"namespace", Field(involved, "metadata", "namespace")},
              {"uid", Field(involved, "metadata", "uid")},
              {"resourceVersion", Field(involved, "metadata", "resourceVersion")}};
  // Event messages are capped by the API at 1 KiB.
  std::string msg = message.size() > 1024 ? message.substr(0, 1021) + "..." : message;
  return Json{{"apiVersion", "v1"},
              {"kind", "Event"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"involvedObject", ref},
              {"reason", reason},
              {"message", msg},
              {"type", type == EventType::kWarning ? "Warning" : "Normal"},
              {"source", {{"component", component}}},
              {"reportingComponent", component},
              {"reportingInstance", instance},
              {"firstTimestamp", timestamp},
              {"lastTimestamp", timestamp},
              {"count", 1}};
}

void EventRecorder::record(const Json& involved, EventType type, const std::string& reason,
                           const std::string& message) {
  const std::string uid = Field(involved, "metadata", "uid");
  const std::string key = uid + "\x1f" + reason + "\x1f" + message;
  const auto now = std::chrono::steady_clock::now();
  const std::string ts = NowRfc3339();
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = seen_.find(key);
    if (it != seen_.end() && now - it->second.last < std::chrono::minutes(10)) {
      Seen s = it->second;
      s.count += 1;
      s.last = now;
      it->second = s;
      lock.unlock();
      auto r = client_->patch(resources::kEvents, s.ns, s.name, PatchType::kMerge,
                              Json{{"count", s.count}, {"lastTimestamp", ts}});
      if (r) return;
      spdlog::debug("event {}: patch failed ({}), creating anew", reason, r.error().to_string());
    }
    if (seen_.size() > 4096) seen_.clear();  // bound memory
  }
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char suffix[20];
  std::snprintf(suffix, sizeof(suffix), "%016llx", static_cast<unsigned long long>(rng()));
  std::string obj_name = Field(involved, "metadata", "name");
  if (obj_name.empty()) obj_name = "unknown";
  Json ev = BuildEvent(involved, type, reason, message, component_, instance_, ts,
                       obj_name + "." + suffix);
  std::string ns = ev["metadata"]["namespace"];
  auto r = client_->create(resources::kEvents, ns, ev);
  if (!r) {
    spdlog::warn("event {} on {}/{}: {}", reason, ns, obj_name, r.error().to_string());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  seen_[key] = Seen{ns, ev["metadata"]["name"], 1, now};
}

}  // namespace shardcast::kube
