#include "router/batch.h"

#include <charconv>

#include "router/document.h"

namespace shardcast::router {
namespace {

void AppendNumberBulk(std::string& out, std::uint64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), v);
  (void)ec;
  AppendBulk(out, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

void AppendKeyBulk(std::string& out, std::string_view prefix, std::uint32_t id) {
  char digits[12];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), id);
  (void)ec;
  std::size_t n = static_cast<std::size_t>(end - digits);
  out += '$';
  out += std::to_string(prefix.size() + n);
  out += "\r\n";
  out.append(prefix.data(), prefix.size());
  out.append(digits, n);
  out += "\r\n";
}

}  // namespace

std::uint64_t BatchHeader(std::size_t argc, std::size_t range_index, std::uint8_t flags) {
  return static_cast<std::uint64_t>(argc) * 65536 + static_cast<std::uint64_t>(range_index) * 8 +
         (flags & 7u);
}

BatchEncoder::BatchEncoder() : index_(kMaxRanges, 0) {}

void BatchEncoder::Add(std::uint32_t range_id, std::uint8_t flags, std::string_view args,
                       std::size_t argc) {
  std::uint16_t& idx = index_[range_id < kMaxRanges ? range_id : 0];
  if (idx == 0) {
    ranges_.push_back(range_id);
    idx = static_cast<std::uint16_t>(ranges_.size());
  }
  AppendNumberBulk(body_, BatchHeader(argc, idx, flags));
  body_.append(args.data(), args.size());
  ++commands_;
  args_ += 1 + argc;
}

void BatchEncoder::EncodeTo(std::string& out, std::string_view sha_bulk) {
  if (commands_ == 0) return;
  std::size_t r = ranges_.size();
  AppendArrayHeader(out, 3 + 2 * r + 1 + args_);
  out += "$7\r\nEVALSHA\r\n";
  out.append(sha_bulk.data(), sha_bulk.size());
  AppendNumberBulk(out, 2 * r);
  for (std::uint32_t id : ranges_) AppendKeyBulk(out, "__shardcast:range:", id);
  for (std::uint32_t id : ranges_) AppendKeyBulk(out, "__shardcast:wlog:", id);
  AppendNumberBulk(out, r);
  out += body_;
  for (std::uint32_t id : ranges_) index_[id < kMaxRanges ? id : 0] = 0;
  ranges_.clear();
  body_.clear();
  commands_ = 0;
  args_ = 0;
}

bool SplitBatchReply(std::string_view reply, std::size_t n, std::vector<BatchElement>& out,
                     std::string* error) {
  out.clear();
  auto fail = [&](std::string what) {
    if (error) *error = std::move(what);
    return false;
  };
  std::size_t e = reply.find("\r\n");
  if (reply.empty() || reply[0] != '*' || e == std::string_view::npos) {
    return fail("batch reply is not an array");
  }
  std::size_t count = 0;
  auto [p, ec] = std::from_chars(reply.data() + 1, reply.data() + e, count);
  if (ec != std::errc() || p != reply.data() + e || count != n) {
    return fail("batch reply has " + std::string(reply.substr(1, e - 1)) + " elements, want " +
                std::to_string(n));
  }
  std::size_t pos = e + 2;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    BatchElement el;
    std::string err;
    std::string_view rest = reply.substr(pos);
    if (ScanReply(rest, el.info, &err) != ParseStatus::kComplete) {
      return fail("batch reply element " + std::to_string(i) + ": " +
                  (err.empty() ? std::string("incomplete") : err));
    }
    el.bytes = rest.substr(0, el.info.length);
    pos += el.info.length;
    out.push_back(el);
  }
  if (pos != reply.size()) return fail("batch reply has trailing bytes");
  return true;
}

}  // namespace shardcast::router
