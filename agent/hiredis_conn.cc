// RedisConn over hiredis 0.14 (synchronous API).
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "agent/redis_conn.h"

namespace shardcast::agent {
namespace {

Reply Convert(const redisReply* r) {
  Reply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

class HiredisConn final : public RedisConn {
 public:
  HiredisConn(redisContext* ctx, std::string name) : ctx_(ctx), name_(std::move(name)) {}
  ~HiredisConn() override { redisFree(ctx_); }

  Result<Reply> Command(const Argv& argv) override {
    auto r = Pipeline({argv});
    if (!r) return unexpected(r.error());
    return std::move(r->front());
  }

  Result<std::vector<Reply>> Pipeline(const std::vector<Argv>& cmds) override {
    if (broken_) return unexpected(Error{"redis " + name_ + ": connection broken"});
    for (const Argv& argv : cmds) {
      std::vector<const char*> ptrs;
      std::vector<size_t> lens;
      for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
          REDIS_OK) {
        return Fail();
      }
    }
    std::vector<Reply> out;
    out.reserve(cmds.size());
    for (size_t i = 0; i < cmds.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return Fail();
      out.push_back(Convert(static_cast<redisReply*>(raw)));
      freeReplyObject(raw);
    }
    return out;
  }

 private:
  Unexpected<Error> Fail() {
    broken_ = true;
    return unexpected(Error{"redis " + name_ + ": " + std::string(ctx_->errstr)});
  }

  redisContext* ctx_;
  std::string name_;
  bool broken_ = false;
};

}  // namespace

ConnFactory HiredisFactory(std::chrono::milliseconds timeout) {
  return [timeout](const std::string& host, int port) -> Result<std::unique_ptr<RedisConn>> {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    const std::string name = host + ":" + std::to_string(port);
    redisContext* ctx = redisConnectWithTimeout(host.c_str(), port, tv);
    if (ctx == nullptr) return unexpected(Error{"redis " + name + ": cannot allocate context"});
    if (ctx->err != 0) {
      std::string msg = "redis " + name + ": " + ctx->errstr;
      redisFree(ctx);
      return unexpected(Error{msg});
    }
    redisSetTimeout(ctx, tv);
    return std::unique_ptr<RedisConn>(new HiredisConn(ctx, name));
  };
}

Result<void> ExpectOk(const Result<Reply>& r, const std::string& what) {
  if (!r) return unexpected(Error{what + ": " + r.error().message});
  if (r->is_error()) return unexpected(Error{what + ": " + r->str});
  return {};
}

Result<std::int64_t> ExpectInt(const Result<Reply>& r, const std::string& what) {
  if (!r) return unexpected(Error{what + ": " + r.error().message});
  if (r->is_error()) return unexpected(Error{what + ": " + r->str});
  if (r->type != Reply::Type::kInteger) return unexpected(Error{what + ": not an integer reply"});
  return r->integer;
}

}  // namespace shardcast::agent
