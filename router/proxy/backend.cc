#include "router/proxy/backend.h"

#include <spdlog/spdlog.h>

namespace shardcast::router::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr std::size_t kChunk = 64 * 1024;

// host and port of "host:port" / "[v6]:port".
std::pair<std::string, std::string> SplitEndpoint(const std::string& ep) {
  auto colon = ep.rfind(':');
  if (colon == std::string::npos) return {ep, ""};
  std::string host = ep.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, ep.substr(colon + 1)};
}
}  // namespace

Backend::Backend(asio::io_context& io, std::string endpoint, const BackendOptions& options)
    : io_(io),
      endpoint_(std::move(endpoint)),
      options_(options),
      socket_(io),
      resolver_(io),
      connect_timer_(io),
      chunk_(new char[kChunk]) {}

Backend::~Backend() = default;

void Backend::Send(std::string_view encoded, ReplyCallback done) {
  wbuf_.append(encoded.data(), encoded.size());
  Enqueue(std::move(done));
}

void Backend::Enqueue(ReplyCallback done) {
  pending_.push_back({std::move(done), std::chrono::steady_clock::now()});
  if (state_ == State::kIdle) {
    Connect();
  } else if (state_ == State::kConnected) {
    ScheduleFlush();
  }
}

void Backend::LoadScript() {
  std::string cmd;
  AppendCommand(cmd, {"SCRIPT", "LOAD", options_.script});
  std::string ep = endpoint_;
  Send(cmd, [ep](const Reply& r) {
    if (r.info.is_error) spdlog::warn("shard {}: SCRIPT LOAD failed: {}", ep, r.info.error_text);
  });
}

void Backend::Connect() {
  state_ = State::kConnecting;
  // The script goes first on every connection.
  std::string cmd;
  AppendCommand(cmd, {"SCRIPT", "LOAD", options_.script});
  wbuf_.insert(0, cmd);
  std::string ep = endpoint_;
  pending_.push_front({[ep](const Reply& r) {
                         if (r.info.is_error && !r.transport_error) {
                           spdlog::warn("shard {}: SCRIPT LOAD failed: {}", ep, r.info.error_text);
                         }
                       },
                       std::chrono::steady_clock::now()});
  auto [host, port] = SplitEndpoint(endpoint_);
  auto self = shared_from_this();
  std::uint64_t gen = generation_;
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([this, self, gen](const boost::system::error_code& ec) {
    if (!ec && gen == generation_ && state_ == State::kConnecting) Close("connect timeout");
  });
  resolver_.async_resolve(
      host, port, asio::ip::resolver_base::numeric_service,
      [this, self, gen](const boost::system::error_code& ec, tcp::resolver::results_type res) {
        if (gen != generation_) return;
        if (ec) return Close("resolve: " + ec.message());
        asio::async_connect(socket_, res,
                            [this, self, gen](const boost::system::error_code& ec2, const auto&) {
                              if (gen != generation_) return;
                              if (ec2) return Close("connect: " + ec2.message());
                              OnConnected();
                            });
      });
}

void Backend::OnConnected() {
  connect_timer_.cancel();
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  state_ = State::kConnected;
  Read();
  ScheduleFlush();
}

void Backend::ScheduleFlush() {
  if (flush_scheduled_ || writing_) return;
  flush_scheduled_ = true;
  auto self = shared_from_this();
  asio::post(io_, [this, self] {
    flush_scheduled_ = false;
    Flush();
  });
}

void Backend::Flush() {
  if (writing_ || wbuf_.empty() || state_ != State::kConnected) return;
  writing_ = true;
  inflight_.swap(wbuf_);
  auto self = shared_from_this();
  std::uint64_t gen = generation_;
  asio::async_write(socket_, asio::buffer(inflight_),
                    [this, self, gen](const boost::system::error_code& ec, std::size_t) {
                      if (gen != generation_) return;
                      writing_ = false;
                      inflight_.clear();
                      if (ec) return Close("write: " + ec.message());
                      Flush();
                    });
}

void Backend::Read() {
  auto self = shared_from_this();
  std::uint64_t gen = generation_;
  socket_.async_read_some(asio::buffer(chunk_.get(), kChunk),
                          [this, self, gen](const boost::system::error_code& ec, std::size_t n) {
                            if (gen != generation_) return;
                            if (ec) return Close("read: " + ec.message());
                            OnData(n);
                            if (gen == generation_) Read();
                          });
}

void Backend::OnData(std::size_t n) {
  rbuf_.append(chunk_.get(), n);
  std::uint64_t gen = generation_;
  while (rpos_ < rbuf_.size()) {
    Reply r;
    std::string err;
    std::string_view rest = std::string_view(rbuf_).substr(rpos_);
    auto st = ScanReply(rest, r.info, &err);
    if (st == ParseStatus::kNeedMore) break;
    if (st == ParseStatus::kError || pending_.empty()) {
      Close(pending_.empty() ? "unexpected reply" : "protocol error: " + err);
      return;
    }
    r.bytes = rest.substr(0, r.info.length);
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    // The views stay valid during the callback: rbuf_ changes only here and
    // in Close(), which callbacks never call.
    rpos_ += r.info.length;
    p.done(r);
    if (gen != generation_) return;
  }
  if (rpos_ == rbuf_.size()) {
    rbuf_.clear();
    rpos_ = 0;
  } else if (rpos_ > kChunk) {
    rbuf_.erase(0, rpos_);
    rpos_ = 0;
  }
}

void Backend::CheckTimeouts(std::chrono::steady_clock::time_point now) {
  if (!pending_.empty() && now - pending_.front().sent > options_.request_timeout) {
    Close("timeout after " + std::to_string(options_.request_timeout.count()) + " ms");
  }
}

void Backend::Close(const std::string& reason) {
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  connect_timer_.cancel();
  resolver_.cancel();
  state_ = State::kIdle;
  writing_ = false;
  wbuf_.clear();
  inflight_.clear();
  rbuf_.clear();
  rpos_ = 0;
  if (!pending_.empty()) spdlog::warn("shard {}: {}", endpoint_, reason);
  FailAll(reason);
}

void Backend::FailAll(const std::string& reason) {
  std::deque<Pending> failed;
  failed.swap(pending_);
  std::string text;
  AppendError(text, "ERR shardcast: shard " + endpoint_ + " unavailable: " + reason);
  for (auto& p : failed) {
    Reply r;
    r.bytes = text;
    r.transport_error = true;
    r.info.is_error = true;
    r.info.length = text.size();
    r.info.error_text = std::string_view(text).substr(1, text.size() - 3);
    p.done(r);
  }
}

}  // namespace shardcast::router::proxy
