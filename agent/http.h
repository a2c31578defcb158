// The agent's HTTP request and answer, independent of the transport
// (operator/runtime's HttpServer serves them; see main.cc).
#pragma once

#include <string>

namespace shardcast::agent {

struct HttpRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', undecoded
  std::string body;
};

struct HttpAnswer {
  int status = 200;
  std::string body;  // JSON
  std::string content_type = "application/json";
};

}  // namespace shardcast::agent
