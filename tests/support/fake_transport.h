// A kube::Transport in memory, shared by the controller tests: records every
// request, answers GETs from `gets` and echoes write bodies. No streams.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "operator/kube/error.h"
#include "operator/kube/transport.h"

namespace shardcast::testing {

class FakeTransport : public kube::Transport {
 public:
  using Json = nlohmann::json;

  kube::ApiResult<kube::HttpResponse> send(const kube::HttpRequest& r) override {
    std::lock_guard<std::mutex> l(mu);
    requests.push_back(r);
    const std::string path = r.path_and_query.substr(0, r.path_and_query.find('?'));
    if (r.method == "GET") return Get(r.path_and_query, path);
    if (r.method == "DELETE") return kube::HttpResponse{200, "{}", ""};
    Json body = Json::parse(r.body, nullptr, false);
    if (body.is_discarded()) body = Json::object();
    if (stamp_writes && (r.method == "POST" || r.method == "PUT")) {
      body["metadata"]["resourceVersion"] = std::to_string(++rv);
      if (body.value("kind", "") == "ConfigMap") {
        gets[path + (r.method == "POST" ? "/" + body["metadata"]["name"].get<std::string>() : "")] =
            body;
      }
    }
    return kube::HttpResponse{r.method == "POST" ? 201 : 200, body.dump(), ""};
  }
  kube::ApiResult<std::unique_ptr<kube::LineStream>> stream(const kube::HttpRequest&,
                                                            std::chrono::seconds) override {
    return kube::MakeApiError(kube::ErrorKind::kUnavailable, "no streams in tests");
  }
  std::string server() const override { return "https://fake"; }

  // Every request but GETs, in order.
  std::vector<kube::HttpRequest> writes() {
    std::lock_guard<std::mutex> l(mu);
    std::vector<kube::HttpRequest> out;
    for (const auto& r : requests) {
      if (r.method != "GET") out.push_back(r);
    }
    return out;
  }
  // Writes whose path contains `path_part`.
  std::vector<kube::HttpRequest> writes(const std::string& path_part) {
    std::vector<kube::HttpRequest> out;
    for (const auto& r : writes()) {
      if (r.path_and_query.find(path_part) != std::string::npos) out.push_back(r);
    }
    return out;
  }
  // Requests with `method` whose path contains `needle`.
  std::vector<kube::HttpRequest> by(const std::string& method, const std::string& needle) {
    std::lock_guard<std::mutex> l(mu);
    std::vector<kube::HttpRequest> out;
    for (const auto& r : requests) {
      if (r.method == method && r.path_and_query.find(needle) != std::string::npos)
        out.push_back(r);
    }
    return out;
  }

  std::mutex mu;
  std::vector<kube::HttpRequest> requests;
  std::map<std::string, Json> gets;  // by path (with or without the query)
  std::optional<Json> default_get;   // answer for other GETs; none: 404 NotFound
  // 404 as an HTTP response (the body a Status) instead of an ApiError.
  bool not_found_as_response = false;
  // POST/PUT get a fresh metadata.resourceVersion; ConfigMaps written are
  // then served by GET.
  bool stamp_writes = false;
  int rv = 100;

 private:
  kube::ApiResult<kube::HttpResponse> Get(const std::string& full, const std::string& path) {
    auto it = gets.find(full);
    if (it == gets.end()) it = gets.find(path);
    if (it != gets.end()) return kube::HttpResponse{200, it->second.dump(), ""};
    if (default_get) return kube::HttpResponse{200, default_get->dump(), ""};
    const std::string status = R"({"kind":"Status","reason":"NotFound","code":404})";
    if (not_found_as_response) return kube::HttpResponse{404, status, ""};
    return Unexpected<kube::ApiError>{kube::ErrorFromResponse(404, status)};
  }
};

}  // namespace shardcast::testing
