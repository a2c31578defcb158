#include "operator/kube/transport.h"

#include <cpprest/http_client.h>
#include <pplx/pplxtasks.h>

#include <atomic>
#include <mutex>

namespace shardcast::kube {

namespace {

namespace http = web::http;
namespace client = web::http::client;

struct TransportState {
  RestConfig config;
  TokenSource tokens;
  TransportOptions options;
  explicit TransportState(const RestConfig& c, TransportOptions o)
      : config(c), tokens(c), options(std::move(o)) {}
};

client::http_client_config MakeClientConfig(const TransportState& st,
                                            std::chrono::seconds timeout) {
  client::http_client_config cfg;
  cfg.set_timeout(timeout);
  cfg.set_validate_certificates(!st.config.insecure_skip_tls_verify);
  std::string ca = st.config.ca_pem;
  std::string cert = st.config.client_cert_pem;
  std::string key = st.config.client_key_pem;
  cfg.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
    // Throws on bad material; the material was validated up front, and any
    // exception surfaces through the request's task, caught below.
    if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca.data(), ca.size()));
    if (!cert.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(cert.data(), cert.size()));
      ctx.use_private_key(boost::asio::buffer(key.data(), key.size()),
                          boost::asio::ssl::context::pem);
    }
  });
  return cfg;
}

// Turns an exception from cpprestsdk into a typed error.
ApiError FromException(const TransportState& st, const std::exception& e, bool cancelled) {
  ApiError err;
  std::string what = e.what();
  if (cancelled) {
    err.kind = ErrorKind::kCancelled;
    err.message = "request cancelled";
    return err;
  }
  auto contains = [&](const char* needle) { return what.find(needle) != std::string::npos; };
  if (contains("SSL") || contains("ssl") || contains("certificate") || contains("handshake")) {
    err.kind = ErrorKind::kConfig;
    err.message = "TLS handshake with " + st.config.server + " failed (" + what + ")";
    if (!st.config.ca_source.empty()) {
      err.message += "; check certificate-authority " + st.config.ca_source;
    }
    return err;
  }
  if (contains("timed out") || contains("timeout") || contains("Timeout")) {
    err.kind = ErrorKind::kTimeout;
  } else {
    err.kind = ErrorKind::kUnavailable;
  }
  err.message = "cannot reach " + st.config.server + ": " + what;
  return err;
}

http::http_request BuildRequest(TransportState& st, const HttpRequest& r) {
  http::http_request req(r.method);
  req.set_request_uri(r.path_and_query);
  req.headers().add("Accept", r.accept);
  req.headers().add("User-Agent", st.options.user_agent);
  std::string token = st.tokens.token();
  if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
  if (!r.body.empty() || !r.content_type.empty()) req.set_body(r.body, r.content_type);
  return req;
}

class CpprestLineStream final : public LineStream {
 public:
  CpprestLineStream(std::shared_ptr<TransportState> st, std::unique_ptr<client::http_client> c,
                    std::shared_ptr<pplx::cancellation_token_source> cts, http::http_response resp)
      : st_(std::move(st)),
        client_(std::move(c)),
        cts_(std::move(cts)),
        body_(resp.body()),
        response_(std::move(resp)) {}

  ~CpprestLineStream() override {
    cancel();
    // Drain quietly: the task may still complete with an exception.
    try {
      body_.close().wait();
    } catch (...) {
    }
  }

  ApiResult<std::optional<std::string>> NextLine() override {
    for (;;) {
      if (auto line = splitter_.pop()) return std::optional<std::string>(std::move(*line));
      if (eof_) return std::optional<std::string>();
      if (cancelled_.load()) return MakeApiError(ErrorKind::kCancelled, "watch cancelled");
      size_t n = 0;
      try {
        // getn() waits for its whole count, which would hold events back
        // until 64 KiB arrived. Instead block for one byte, then take what
        // is already buffered, so events stream as the server flushes them.
        auto sb = body_.streambuf();
        auto c = sb.bumpc().get();
        if (c != concurrency::streams::streambuf<uint8_t>::traits::eof()) {
          buffer_[0] = static_cast<uint8_t>(c);
          n = 1;
          size_t avail = sb.in_avail();
          size_t want = std::min(avail, sizeof(buffer_) - 1);
          if (want > 0) n += sb.getn(buffer_ + 1, want).get();
        }
      } catch (const std::exception& e) {
        return Unexpected<ApiError>{FromException(*st_, e, cancelled_.load())};
      }
      if (n == 0) {
        if (cancelled_.load()) return MakeApiError(ErrorKind::kCancelled, "watch cancelled");
        eof_ = true;
        if (splitter_.has_partial()) splitter_.feed("\n", 1);
        continue;
      }
      splitter_.feed(reinterpret_cast<const char*>(buffer_), n);
    }
  }

  void cancel() override {
    if (cancelled_.exchange(true)) return;
    try {
      cts_->cancel();
      body_.streambuf().close(std::ios_base::in).wait();
    } catch (...) {
    }
  }

 private:
  std::shared_ptr<TransportState> st_;
  std::unique_ptr<client::http_client> client_;
  std::shared_ptr<pplx::cancellation_token_source> cts_;
  concurrency::streams::istream body_;
  http::http_response response_;
  LineSplitter splitter_;
  uint8_t buffer_[64 * 1024];
  bool eof_ = false;
  std::atomic<bool> cancelled_{false};
};

class CpprestTransport final : public Transport {
 public:
  explicit CpprestTransport(std::shared_ptr<TransportState> st)
      : st_(std::move(st)),
        client_(std::make_unique<client::http_client>(
            web::uri(st_->config.server), MakeClientConfig(*st_, st_->options.request_timeout))) {}

  std::string server() const override { return st_->config.server; }

  ApiResult<HttpResponse> send(const HttpRequest& request) override {
    auto result = SendOnce(request);
    // A rotated service-account token shows up as 401: re-read and retry once.
    if (!result && result.error().kind == ErrorKind::kUnauthorized &&
        !st_->config.token_file.empty()) {
      st_->tokens.invalidate();
      result = SendOnce(request);
    }
    return result;
  }

  ApiResult<std::unique_ptr<LineStream>> stream(const HttpRequest& request,
                                                std::chrono::seconds idle_timeout) override {
    auto cts = std::make_shared<pplx::cancellation_token_source>();
    try {
      auto c = std::make_unique<client::http_client>(web::uri(st_->config.server),
                                                     MakeClientConfig(*st_, idle_timeout));
      http::http_response resp = c->request(BuildRequest(*st_, request), cts->get_token()).get();
      int status = resp.status_code();
      if (status < 200 || status > 299) {
        std::string body = resp.extract_string(true).get();
        std::string retry_after;
        if (resp.headers().has("Retry-After")) retry_after = resp.headers()["Retry-After"];
        if (status == 401) st_->tokens.invalidate();
        return Unexpected<ApiError>{ErrorFromResponse(status, body, retry_after)};
      }
      return std::unique_ptr<LineStream>(
          std::make_unique<CpprestLineStream>(st_, std::move(c), cts, std::move(resp)));
    } catch (const std::exception& e) {
      return Unexpected<ApiError>{FromException(*st_, e, false)};
    }
  }

 private:
  ApiResult<HttpResponse> SendOnce(const HttpRequest& request) {
    try {
      http::http_response resp = client_->request(BuildRequest(*st_, request)).get();
      HttpResponse out;
      out.status = resp.status_code();
      out.body = resp.extract_string(true).get();
      if (resp.headers().has("Retry-After")) out.retry_after = resp.headers()["Retry-After"];
      if (out.status < 200 || out.status > 299) {
        return Unexpected<ApiError>{ErrorFromResponse(out.status, out.body, out.retry_after)};
      }
      return out;
    } catch (const std::exception& e) {
      return Unexpected<ApiError>{FromException(*st_, e, false)};
    }
  }

  std::shared_ptr<TransportState> st_;
  std::unique_ptr<client::http_client> client_;
};

}  // namespace

ApiResult<std::shared_ptr<Transport>> MakeHttpTransport(const RestConfig& config,
                                                        TransportOptions options) {
  if (auto tls = ValidateTlsMaterial(config); !tls) {
    return MakeApiError(ErrorKind::kConfig, tls.error().message);
  }
  try {
    auto st = std::make_shared<TransportState>(config, std::move(options));
    return std::shared_ptr<Transport>(std::make_shared<CpprestTransport>(std::move(st)));
  } catch (const std::exception& e) {
    return MakeApiError(ErrorKind::kConfig, "kubeconfig " + config.source + ": server " +
                                                config.server + ": " + e.what());
  }
}

}  // namespace shardcast::kube
