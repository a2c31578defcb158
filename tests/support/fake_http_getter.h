// A forecast::HttpGetter in memory, shared by the forecast controller tests:
// GETs are recorded in `gets` ("host:port/path") and answered with
// `bodies[host]` (a host without a body is refused); POSTs are recorded in
// `posts` ("host:port/path body") and answered by `on_post` (unset: refused,
// as a getter that only scrapes).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "controllers/forecast/http_getter.h"

namespace shardcast::testing {

class FakeHttpGetter : public forecast::HttpGetter {
 public:
  Result<std::string> get(const std::string& host, int port, const std::string& path,
                          std::chrono::milliseconds) override {
    gets.push_back(host + ":" + std::to_string(port) + path);
    auto it = bodies.find(host);
    if (it == bodies.end()) return unexpected(Error{"connection refused"});
    return it->second;
  }
  Result<std::string> post(const std::string& host, int port, const std::string& path,
                           const std::string& body, std::chrono::milliseconds timeout) override {
    posts.push_back(host + ":" + std::to_string(port) + path + " " + body);
    if (!on_post) return HttpGetter::post(host, port, path, body, timeout);
    return on_post(body);
  }

  std::map<std::string, std::string> bodies;
  std::vector<std::string> gets, posts;
  std::function<Result<std::string>(const std::string& body)> on_post;
};

}  // namespace shardcast::testing
