#include "operator/kube/leader_election.h"

#include <spdlog/spdlog.h>

#include <random>

#include "operator/kube/events.h"

namespace shardcast::kube {

namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string SpecString(const Json& lease, const char* field) {
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return {};
  auto it = spec->find(field);
  return (it != spec->end() && it->is_string()) ? it->get<std::string>() : std::string();
}

int64_t SpecInt(const Json& lease, const char* field) {
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return 0;
  auto it = spec->find(field);
  return (it != spec->end() && it->is_number_integer()) ? it->get<int64_t>() : 0;
}

}  // namespace

LeaderElector::LeaderElector(std::shared_ptr<Client> client, LeaderElectionConfig config)
    : client_(std::move(client)), config_(std::move(config)) {}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start(StartedFn on_started, StoppedFn on_stopped) {
  if (thread_.joinable()) return;
  on_started_ = std::move(on_started);
  on_stopped_ = std::move(on_stopped);
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void LeaderElector::stop() {
  stopping_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::StillLeading(uint64_t token) const {
  if (!leader_.load() || token == 0 || token != token_.load()) return false;
  auto age = std::chrono::nanoseconds(SteadyNowNs() - last_renew_ns_.load());
  return age < config_.renew_deadline;
}

bool LeaderElector::wait(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_.load();
}

std::chrono::milliseconds LeaderElector::Jittered() const {
  static thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> dist(0.0, config_.jitter_factor);
  return std::chrono::milliseconds(
      static_cast<int64_t>(config_.retry_period.count() * (1.0 + dist(rng))));
}

LeaderElector::Attempt LeaderElector::TryAcquireOrRenew() {
  const std::string now = NowMicroTime();
  const int64_t duration_s =
      std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count();
  auto current = client_->get(resources::kLeases, config_.lease_namespace, config_.lease_name);
  if (!current) {
    if (current.error().kind != ErrorKind::kNotFound) {
      spdlog::warn("leader election: get lease: {}", current.error().to_string());
      return Attempt::kError;
    }
    Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", config_.identity},
          {"leaseDurationSeconds", duration_s},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}}}};
    auto created = client_->create(resources::kLeases, config_.lease_namespace, lease);
    if (!created) return Attempt::kError;  // someone else created it first
    token_ = 1;
    return Attempt::kLeading;
  }

  Json lease = *current;
  const std::string holder = SpecString(lease, "holderIdentity");
  const std::string renew = SpecString(lease, "renewTime");
  const int64_t transitions = SpecInt(lease, "leaseTransitions");
  const auto steady_now = std::chrono::steady_clock::now();
  const std::string record = holder + "|" + renew + "|" + std::to_string(transitions);
  if (record != observed_record_) {
    observed_record_ = record;
    observed_time_ = steady_now;
  }
  const bool held_by_other = !holder.empty() && holder != config_.identity;
  if (held_by_other) {
    int64_t remote_duration = SpecInt(lease, "leaseDurationSeconds");
    auto valid_for = remote_duration > 0 ? std::chrono::milliseconds(remote_duration * 1000)
                                         : config_.lease_duration;
    if (steady_now < observed_time_ + valid_for) return Attempt::kHeldByOther;
  }

  Json& spec = lease["spec"];
  if (!spec.is_object()) spec = Json::object();
  int64_t new_transitions = transitions;
  if (holder != config_.identity) {
    new_transitions = transitions + 1;
    spec["acquireTime"] = now;
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = now;
  spec["leaseTransitions"] = new_transitions;
  // metadata.resourceVersion from the GET is the precondition: two
  // candidates racing for an expired lease cannot both win.
  auto updated = client_->update(resources::kLeases, config_.lease_namespace, lease);
  if (!updated) {
    if (updated.error().kind != ErrorKind::kConflict) {
      spdlog::warn("leader election: update lease: {}", updated.error().to_string());
    }
    return Attempt::kError;
  }
  token_ = static_cast<uint64_t>(new_transitions) + 1;
  return Attempt::kLeading;
}

void LeaderElector::release() {
  auto current = client_->get(resources::kLeases, config_.lease_namespace, config_.lease_name);
  if (!current || SpecString(*current, "holderIdentity") != config_.identity) return;
  Json lease = *current;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = NowMicroTime();
  auto r = client_->update(resources::kLeases, config_.lease_namespace, lease);
  if (r) spdlog::info("leader election: released lease {}", config_.lease_name);
}

void LeaderElector::run() {
  // Acquire.
  while (!stopping_) {
    Attempt a = TryAcquireOrRenew();
    if (a == Attempt::kLeading) break;
    if (!wait(Jittered())) return;
  }
  if (stopping_) return;
  last_renew_ns_ = SteadyNowNs();
  leader_ = true;
  spdlog::info("leader election: {} became leader of {}/{} (fencing token {})", config_.identity,
               config_.lease_namespace, config_.lease_name, token_.load());
  if (on_started_) on_started_(token_.load());

  // Renew every retry period; step down when renewals fail for longer than
  // the renew deadline.
  while (!stopping_) {
    if (!wait(config_.retry_period)) break;
    Attempt a = TryAcquireOrRenew();
    if (a == Attempt::kLeading) {
      last_renew_ns_ = SteadyNowNs();
      continue;
    }
    auto since = std::chrono::nanoseconds(SteadyNowNs() - last_renew_ns_.load());
    if (a == Attempt::kHeldByOther || since >= config_.renew_deadline) {
      spdlog::warn("leader election: {} lost the lease", config_.identity);
      break;
    }
  }
  leader_ = false;
  if (stopping_ && config_.release_on_stop) release();
  if (on_stopped_) on_stopped_();
}

}  // namespace shardcast::kube
