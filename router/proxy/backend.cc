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
  SealBatch();  // keeps wbuf_ in the order of pending_
  ++outstanding_;
  pending_.push_back({std::move(done), {}, std::chrono::steady_clock::now()});
  Kick();
}

void Backend::SendKeyed(std::uint32_t range_id, std::uint8_t flags, std::string_view args,
                        std::size_t argc, ReplyCallback done) {
  bool alone = BatchEncoder::TravelsAlone(argc);
  if (alone) SealBatch();
  batch_.Add(range_id, flags, args, argc);
  batch_done_.push_back(std::move(done));
  ++outstanding_;
  if (alone || batch_.Full()) SealBatch();
  Kick();
}

void Backend::Kick() {
  if (state_ == State::kIdle) {
    Connect();
  } else if (state_ == State::kConnected) {
    ScheduleFlush();
  }
}

void Backend::SealBatch() {
  if (batch_.empty()) return;
  batch_.EncodeTo(wbuf_, options_.script_sha_bulk);
  pending_.push_back({nullptr, std::move(batch_done_), std::chrono::steady_clock::now()});
  batch_done_.clear();
}

void Backend::LoadScript() {
  if (script_loading_) return;
  script_loading_ = true;
  std::string cmd;
  AppendCommand(cmd, {"SCRIPT", "LOAD", options_.script});
  std::string ep = endpoint_;
  auto self = shared_from_this();
  Send(cmd, [this, self, ep](const Reply& r) {
    script_loading_ = false;
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
  ++outstanding_;
  pending_.push_front({[ep](const Reply& r) {
                         if (r.info.is_error && !r.transport_error) {
                           spdlog::warn("shard {}: SCRIPT LOAD failed: {}", ep, r.info.error_text);
                         }
                       },
                       {},
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
  if (writing_ || state_ != State::kConnected) return;
  SealBatch();
  if (wbuf_.empty()) return;
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
    // The views stay valid during the callbacks: rbuf_ changes only here and
    // in Close(), which callbacks never call.
    rpos_ += r.info.length;
    Deliver(p, r);
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

void Backend::Deliver(Pending& p, const Reply& r) {
  if (p.batch.empty()) {
    --outstanding_;
    p.done(r);
    return;
  }
  // A top-level error (NOSCRIPT, BUSY, a failed script) is every command's.
  std::string err;
  if (!r.info.is_error && !SplitBatchReply(r.bytes, p.batch.size(), elements_, &err)) {
    Close("protocol error: " + err);  // fails the pending requests, not this batch
    Reply fail;
    std::string text;
    AppendError(text, "ERR shardcast: shard " + endpoint_ + ": " + err);
    fail.bytes = text;
    fail.transport_error = true;
    fail.info.is_error = true;
    fail.info.length = text.size();
    fail.info.error_text = std::string_view(text).substr(1, text.size() - 3);
    for (auto& done : p.batch) {
      --outstanding_;
      done(fail);
    }
    return;
  }
  for (std::size_t i = 0; i < p.batch.size(); ++i) {
    --outstanding_;
    if (r.info.is_error) {
      p.batch[i](r);
    } else {
      Reply one;
      one.bytes = elements_[i].bytes;
      one.info = elements_[i].info;
      p.batch[i](one);
    }
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
  if (!batch_done_.empty()) failed.push_back({nullptr, std::move(batch_done_), {}});
  batch_done_.clear();
  batch_ = BatchEncoder();
  script_loading_ = false;
  std::string text;
  AppendError(text, "ERR shardcast: shard " + endpoint_ + " unavailable: " + reason);
  for (auto& p : failed) {
    Reply r;
    r.bytes = text;
    r.transport_error = true;
    r.info.is_error = true;
    r.info.length = text.size();
    r.info.error_text = std::string_view(text).substr(1, text.size() - 3);
    if (p.batch.empty()) {
      --outstanding_;
      p.done(r);
    }
    for (auto& done : p.batch) {
      --outstanding_;
      done(r);
    }
  }
}

}  // namespace shardcast::router::proxy
