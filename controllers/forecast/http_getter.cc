#include "controllers/forecast/http_getter.h"

namespace shardcast::forecast {

PlainHttpGetter::PlainHttpGetter(size_t max_body) : http_(runtime::MakePlainHttpClient(max_body)) {}

namespace {

// One call; anything but 200 is an error naming the URL.
Result<std::string> Call(runtime::HttpClient& http, runtime::HttpCall c) {
  if (c.path.empty()) c.path = "/";
  auto a = http.call(c);
  if (!a) return unexpected(a.error());
  if (a->status != 200) {
    return unexpected(Error{"http://" + c.host + ":" + std::to_string(c.port) + c.path +
                            ": HTTP status " + std::to_string(a->status)});
  }
  return std::move(a->body);
}

}  // namespace

Result<std::string> PlainHttpGetter::get(const std::string& host, int port, const std::string& path,
                                         std::chrono::milliseconds timeout) {
  runtime::HttpCall c;
  c.host = host;
  c.port = port;
  c.path = path;
  c.accept = "text/plain";
  c.timeout = timeout;
  return Call(*http_, std::move(c));
}

Result<std::string> PlainHttpGetter::post(const std::string& host, int port,
                                          const std::string& path, const std::string& body,
                                          std::chrono::milliseconds timeout) {
  runtime::HttpCall c;
  c.method = "POST";
  c.host = host;
  c.port = port;
  c.path = path;
  c.body = body;
  c.content_type = "application/json";
  c.accept = "application/json";
  c.timeout = timeout;
  return Call(*http_, std::move(c));
}

std::unique_ptr<HttpGetter> MakePlainHttpGetter() {
  return std::make_unique<PlainHttpGetter>(32u << 20);
}

}  // namespace shardcast::forecast
