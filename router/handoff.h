// The per-key handoff: interprets the shard script's answers
// (docs/dataplane-protocol.md) into the router's next step. Pure.
//
//   Handoff h(first_destination, is_write);
//   for (;;) {
//     send(h.current());                      // endpoint + flags a/w/e
//     Step s = h.OnAnswer(ClassifyAnswer(error_text_or_empty));
//     if (s.action == Action::kReload) { reload(); s = h.Resolve(*table, key_hash); }
//     ... kSend: loop; kReturn: give the reply; kSplit; kFail: s.error to the client
//   }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "router/table.h"

namespace shardcast::router {

inline constexpr int kMaxRedirects = 3;

enum class AnswerKind { kReply, kAsk, kMoved, kTryAgain, kNotEcho, kReadOnly };

struct ShardAnswer {
  AnswerKind kind = AnswerKind::kReply;
  std::string endpoint;     // ASK, MOVED
  std::uint64_t epoch = 0;  // MOVED
};

// Classifies an error reply's text (without the leading '-'); any text that
// is not a well-formed "SHARDCAST ..." answer is a normal reply.
ShardAnswer ClassifyAnswer(std::string_view error_text);

struct Attempt {
  std::string endpoint;
  bool asking = false;  // flag "a"
  bool echo = false;    // flag "e"
};

enum class Action {
  kReturn,  // give the shard's reply to the client
  kSend,    // send to current()
  kReload,  // reload routing, then call Resolve()
  kSplit,   // TRYAGAIN on a multi-key command: run each key alone
  kFail,    // answer the client with error()
};

struct Step {
  Action action = Action::kReturn;
  std::string error;          // kFail: RESP error text without '-'
  std::string disabled_echo;  // NOTECHO: stop using this echo endpoint
};

class Handoff {
 public:
  Handoff(Attempt first, bool write) : current_(std::move(first)), write_(write) {}

  const Attempt& current() const { return current_; }
  int redirects() const { return redirects_; }
  bool write() const { return write_; }

  Step OnAnswer(const ShardAnswer& answer);
  // After kReload: picks the owner from `table` (or the MOVED endpoint when
  // the table is older than the MOVED epoch, or its owner is the shard that
  // refused). Returns kSend or kFail (range without endpoint).
  Step Resolve(const Table& table, std::uint32_t key_hash);

 private:
  Step Redirect(Attempt next);

  Attempt current_;
  bool write_;
  int redirects_ = 0;
  AnswerKind pending_ = AnswerKind::kReply;
  ShardAnswer moved_;
  std::string refused_;  // endpoint that answered MOVED/READONLY
};

}  // namespace shardcast::router
