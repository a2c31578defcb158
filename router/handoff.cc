#include "router/handoff.h"

#include <charconv>

#include "router/document.h"

namespace shardcast::router {
namespace {

constexpr std::string_view kPrefix = "SHARDCAST ";

std::string_view NextWord(std::string_view& s) {
  auto sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
  return w;
}

}  // namespace

ShardAnswer ClassifyAnswer(std::string_view text) {
  // Redis may prefix script errors with the error code; the script's own
  // replies start with the prefix itself.
  if (text.substr(0, kPrefix.size()) != kPrefix) return {};
  std::string_view rest = text.substr(kPrefix.size());
  std::string_view word = NextWord(rest);
  if (word == "ASK") {
    std::string_view ep = NextWord(rest);
    if (!rest.empty() || ep.empty() || !IsValidEndpoint(ep)) return {};
    return {AnswerKind::kAsk, std::string(ep), 0};
  }
  if (word == "MOVED") {
    std::string_view ep_text = NextWord(rest);
    std::string_view ep = NextWord(rest);
    std::uint64_t epoch = 0;
    auto [p, ec] = std::from_chars(ep_text.data(), ep_text.data() + ep_text.size(), epoch);
    if (ec != std::errc() || p != ep_text.data() + ep_text.size() || ep_text.empty() ||
        !rest.empty() || ep.empty() || !IsValidEndpoint(ep)) {
      return {};
    }
    return {AnswerKind::kMoved, std::string(ep), epoch};
  }
  if (!rest.empty()) return {};
  if (word == "TRYAGAIN") return {AnswerKind::kTryAgain, {}, 0};
  if (word == "NOTECHO") return {AnswerKind::kNotEcho, {}, 0};
  if (word == "READONLY") return {AnswerKind::kReadOnly, {}, 0};
  return {};
}

Step Handoff::Redirect(Attempt next) {
  if (redirects_ >= kMaxRedirects) {
    return {Action::kFail, "TRYAGAIN shardcast: too many redirects, retry later", {}};
  }
  ++redirects_;
  current_ = std::move(next);
  return {Action::kSend, {}, {}};
}

Step Handoff::OnAnswer(const ShardAnswer& answer) {
  switch (answer.kind) {
    case AnswerKind::kReply:
      return {Action::kReturn, {}, {}};
    case AnswerKind::kAsk:
      return Redirect({answer.endpoint, /*asking=*/true, /*echo=*/false});
    case AnswerKind::kTryAgain:
      return {Action::kSplit, {}, {}};
    case AnswerKind::kNotEcho: {
      Step s{Action::kReload, {}, current_.echo ? current_.endpoint : std::string()};
      pending_ = AnswerKind::kNotEcho;
      return s;
    }
    case AnswerKind::kMoved:
    case AnswerKind::kReadOnly:
      if (redirects_ >= kMaxRedirects) {
        return {Action::kFail, "TRYAGAIN shardcast: too many redirects, retry later", {}};
      }
      pending_ = answer.kind;
      moved_ = answer;
      refused_ = current_.endpoint;
      return {Action::kReload, {}, {}};
  }
  return {Action::kReturn, {}, {}};
}

Step Handoff::Resolve(const Table& table, std::uint32_t key_hash) {
  const Range& r = table.RangeOfHash(key_hash);
  std::string owner = r.endpoint;
  if (pending_ == AnswerKind::kMoved &&
      (table.epoch() < moved_.epoch || owner == refused_ || owner.empty())) {
    owner = moved_.endpoint;
  }
  if (pending_ == AnswerKind::kReadOnly && owner == refused_) {
    return {
        Action::kFail,
        "TRYAGAIN shardcast: routing is stale for range " + std::to_string(r.id) + ", retry later",
        {}};
  }
  pending_ = AnswerKind::kReply;
  if (owner.empty()) {
    return {Action::kFail,
            "TRYAGAIN shardcast: range " + std::to_string(r.id) + " has no endpoint yet",
            {}};
  }
  return Redirect({owner, false, false});
}

}  // namespace shardcast::router
