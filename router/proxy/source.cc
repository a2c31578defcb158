#include "router/proxy/source.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "operator/kube/client.h"
#include "operator/kube/kubeconfig.h"
#include "operator/kube/transport.h"

namespace shardcast::router::proxy {

DocumentSink SinkInto(TableHolder* holder) {
  return [holder](const std::string& text) { return holder->Update(text); };
}

FileSource::FileSource(std::string path, TableHolder* holder, UpdateReporter report,
                       std::chrono::milliseconds poll)
    : FileSource(std::move(path), SinkInto(holder), std::move(report), poll) {}

FileSource::FileSource(std::string path, DocumentSink sink, UpdateReporter report,
                       std::chrono::milliseconds poll)
    : path_(std::move(path)), sink_(std::move(sink)), report_(std::move(report)), poll_(poll) {}

FileSource::~FileSource() { Stop(); }

void FileSource::Start() {
  Check(true);
  thread_ = std::thread([this] { Loop(); });
}

void FileSource::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void FileSource::ReloadNow() { Check(true); }

void FileSource::Loop() {
  while (!stop_.load()) {
    std::this_thread::sleep_for(poll_);
    Check(false);
  }
}

void FileSource::Check(bool force) {
  std::lock_guard lock(mu_);
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (force) report_({UpdateOutcome::kRejectedInvalid, 0, "cannot stat " + path_}, path_);
    return;
  }
  std::string stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  if (!force && stamp == last_stamp_) return;
  last_stamp_ = stamp;
  std::ifstream in(path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  UpdateResult r = sink_(ss.str());
  if (!(force && r.outcome == UpdateOutcome::kIgnoredNotNewer)) report_(r, path_);
}

ConfigMapSource::ConfigMapSource(std::string ns, std::string name, std::string kubeconfig,
                                 TableHolder* holder, UpdateReporter report)
    : ConfigMapSource(std::move(ns), std::move(name), "routing.json", std::move(kubeconfig),
                      SinkInto(holder), std::move(report)) {}

ConfigMapSource::ConfigMapSource(std::string ns, std::string name, std::string key,
                                 std::string kubeconfig, DocumentSink sink, UpdateReporter report)
    : ns_(std::move(ns)),
      name_(std::move(name)),
      key_(std::move(key)),
      kubeconfig_(std::move(kubeconfig)),
      sink_(std::move(sink)),
      report_(std::move(report)) {}

ConfigMapSource::ConfigMapSource(std::string ns, std::string name,
                                 std::shared_ptr<kube::Client> client, TableHolder* holder,
                                 UpdateReporter report)
    : ConfigMapSource(std::move(ns), std::move(name), "routing.json", std::move(client),
                      SinkInto(holder), std::move(report)) {}

ConfigMapSource::ConfigMapSource(std::string ns, std::string name, std::string key,
                                 std::shared_ptr<kube::Client> client, DocumentSink sink,
                                 UpdateReporter report)
    : client_(std::move(client)),
      ns_(std::move(ns)),
      name_(std::move(name)),
      key_(std::move(key)),
      sink_(std::move(sink)),
      report_(std::move(report)) {}

ConfigMapSource::~ConfigMapSource() { Stop(); }

void ConfigMapSource::Pause(std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<void> ConfigMapSource::Init() {
  auto cfg = kube::LoadDefault(kubeconfig_);
  if (!cfg) return unexpected(Error{"configmap " + ns_ + "/" + name_ + ": " + cfg.error().message});
  auto transport = kube::MakeHttpTransport(*cfg);
  if (!transport)
    return unexpected(Error{"configmap " + ns_ + "/" + name_ + ": " + transport.error().message});
  client_ = std::make_shared<kube::Client>(*transport);
  return {};
}

void ConfigMapSource::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ConfigMapSource::Stop() {
  stop_ = true;
  {
    std::lock_guard lock(watch_mu_);
    if (watch_ != nullptr) watch_->cancel();
  }
  if (thread_.joinable()) thread_.join();
}

void ConfigMapSource::Loop() {
  std::string origin = "configmap " + ns_ + "/" + name_;
  auto apply = [&](const kube::Json& cm) {
    const auto* data = cm.contains("data") ? &cm["data"] : nullptr;
    if (data == nullptr || !data->contains(key_) || !(*data)[key_].is_string()) {
      report_({UpdateOutcome::kRejectedInvalid, 0, "data." + key_ + ": missing"}, origin);
      return;
    }
    report_(sink_((*data)[key_].get<std::string>()), origin);
  };
  std::chrono::milliseconds backoff(500);
  std::string last_get_error;
  while (!stop_.load()) {
    auto cm = client_->get(kube::resources::kConfigMaps, ns_, name_);
    if (!cm) {
      // Logged when it changes: an absent ConfigMap is retried quietly.
      if (cm.error().message != last_get_error) {
        spdlog::warn("{}: get: {}", origin, cm.error().message);
      }
      last_get_error = cm.error().message;
      Pause(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
      continue;
    }
    last_get_error.clear();
    apply(*cm);
    kube::WatchOptions opts;
    opts.field_selector = "metadata.name=" + name_;
    opts.resource_version = (*cm)["metadata"].value("resourceVersion", "");
    opts.timeout_seconds = 60;
    auto watch = client_->watch(kube::resources::kConfigMaps, ns_, opts);
    if (!watch) {
      spdlog::warn("{}: watch: {}", origin, watch.error().message);
      Pause(backoff);
      continue;
    }
    backoff = std::chrono::milliseconds(500);
    {
      std::lock_guard lock(watch_mu_);
      watch_ = watch->get();
      if (stop_.load()) watch_->cancel();
    }
    while (!stop_.load()) {
      auto ev = (*watch)->next();
      if (!ev || !ev->has_value()) break;  // error or end: get and watch again
      if ((*ev)->type == kube::WatchEventType::kAdded ||
          (*ev)->type == kube::WatchEventType::kModified) {
        apply((*ev)->object);
      }
    }
    std::lock_guard lock(watch_mu_);
    watch_ = nullptr;
  }
}

}  // namespace shardcast::router::proxy
