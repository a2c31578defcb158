// Fixture of the ShardSet reconciler tests: the reconciler against in-memory
// stores and a fake HTTP transport.
#pragma once

#include <gtest/gtest.h>

#include <mutex>

#include "controllers/api/resources.h"
#include "controllers/shardset/reconciler.h"
#include "tests/support/fake_transport.h"
#include "tests/support/recording_sink.h"
#include "testutil.h"

namespace shardcast::shardset::testing {

// The shared fake (tests/support), answering a missing object with a 404
// response as this test was written against.
struct FakeTransport : shardcast::testing::FakeTransport {
  FakeTransport() { not_found_as_response = true; }
};

using RecordingSink = shardcast::testing::RecordingSink;

inline Json PodObject(long ordinal, const std::string& role, bool ready) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "kv-" + std::to_string(ordinal)},
        {"namespace", "ns"},
        {"uid", "uid-" + std::to_string(ordinal)},
        {"resourceVersion", "10" + std::to_string(ordinal)},
        {"labels", {{api::kLabelShardSet, "kv"}, {api::kLabelRole, role}}},
        {"ownerReferences",
         Json::array(
             {{{"kind", "ShardSet"}, {"name", "kv"}, {"uid", "set-uid"}, {"controller", true}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", "10.0.0." + std::to_string(ordinal + 1)},
        {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport = std::make_shared<FakeTransport>();
    ReconcilerDeps deps;
    deps.client = std::make_shared<kube::Client>(transport);
    deps.shardsets = &sets;
    deps.pods = &pods;
    deps.configmaps = &cms;
    deps.policies = &policies;
    deps.events = &sink;
    deps.metrics = &registry;
    deps.fencing_token = [this] { return token; };
    deps.may_write = [this](uint64_t) { return may_write; };
    deps.now = [this] { return now; };
    rec = std::make_unique<ShardSetReconciler>(std::move(deps));
  }
  void PutSet(Json obj) {
    obj["metadata"]["resourceVersion"] = "1";
    sets.Upsert(std::make_shared<const Json>(std::move(obj)));
  }
  void PutPod(long ordinal, const std::string& role, bool ready = true) {
    pods.Upsert(std::make_shared<const Json>(PodObject(ordinal, role, ready)));
  }
  // Publishes the document the reconciler wrote last into the ConfigMap cache.
  Json LastWrite(const std::string& method, const std::string& path_part) {
    for (auto it = transport->requests.rbegin(); it != transport->requests.rend(); ++it) {
      if (it->method == method && it->path_and_query.find(path_part) != std::string::npos) {
        return Json::parse(it->body);
      }
    }
    return Json();
  }

  // The last write (`method`) of the ConfigMap `name`.
  Json LastConfigMapWrite(const std::string& method, const std::string& name) {
    for (auto it = transport->requests.rbegin(); it != transport->requests.rend(); ++it) {
      if (it->method != method || it->path_and_query.find("/configmaps") == std::string::npos) {
        continue;
      }
      Json body = Json::parse(it->body, nullptr, false);
      if (body.is_object() && body.contains("metadata") &&
          body["metadata"].value("name", "") == name) {
        return body;
      }
    }
    return Json();
  }
  // Writes (POST, PUT, PATCH, DELETE) of the ConfigMap `name`.
  size_t ConfigMapWrites(const std::string& name) {
    size_t n = 0;
    for (const auto& w : transport->writes()) {
      if (w.path_and_query.find("/configmaps") == std::string::npos) continue;
      Json body = Json::parse(w.body, nullptr, false);
      const std::string path = w.path_and_query.substr(0, w.path_and_query.find('?'));
      const std::string suffix = "/configmaps/" + name;
      bool named = (path.size() >= suffix.size() &&
                    path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) ||
                   (body.is_object() && body.contains("metadata") &&
                    body["metadata"].value("name", "") == name);
      n += named;
    }
    return n;
  }
  // A routing ConfigMap of ShardSet kv (label, controller owner reference,
  // resourceVersion 9) holding `routing`.
  static Json ConfigMapObject(const std::string& name, const std::string& routing,
                              const std::string& owner_uid = "set-uid") {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata",
             {{"name", name},
              {"namespace", "ns"},
              {"resourceVersion", "9"},
              {"labels", {{api::kLabelShardSet, "kv"}}},
              {"ownerReferences", Json::array({{{"uid", owner_uid}, {"controller", true}}})}}},
            {"data", {{api::kRoutingKey, routing}}}};
  }
  void PutConfigMap(const std::string& name, const std::string& routing,
                    const std::string& owner_uid = "set-uid") {
    cms.Upsert(std::make_shared<const Json>(ConfigMapObject(name, routing, owner_uid)));
  }
  const Json* StatusCondition(const Json& obj, const std::string& type) {
    for (const auto& c : obj["status"]["conditions"]) {
      if (c["type"] == type) return &c;
    }
    return nullptr;
  }
  size_t EventCount(const std::string& reason) {
    size_t n = 0;
    for (const auto& e : sink.events) n += e.reason == reason;
    return n;
  }

  std::shared_ptr<FakeTransport> transport;
  kube::Store sets, pods, cms, policies;
  RecordingSink sink;
  runtime::Registry registry;
  uint64_t token = 1;
  bool may_write = true;
  std::string now = "2026-01-01T00:00:00Z";
  std::unique_ptr<ShardSetReconciler> rec;
};

}  // namespace shardcast::shardset::testing
