#include "router/resp.h"

#include <charconv>
#include <cstring>

namespace shardcast::router {
namespace {

// Position of "\r\n" at or after `from`, or npos.
std::size_t FindCrlf(std::string_view d, std::size_t from) {
  while (from < d.size()) {
    const void* p = std::memchr(d.data() + from, '\r', d.size() - from);
    if (p == nullptr) return std::string_view::npos;
    std::size_t i = static_cast<const char*>(p) - d.data();
    if (i + 1 >= d.size()) return std::string_view::npos;
    if (d[i + 1] == '\n') return i;
    from = i + 1;
  }
  return std::string_view::npos;
}

bool ParseInt(std::string_view s, long long& v) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

ParseStatus Fail(ParsedRequest& out, std::string msg) {
  out.error = std::move(msg);
  return ParseStatus::kError;
}

ParseStatus ParseInline(std::string_view d, const RespLimits& limits, ParsedRequest& out) {
  std::size_t nl = d.find('\n');
  if (nl == std::string_view::npos) {
    if (d.size() > limits.max_inline_bytes)
      return Fail(out, "ERR Protocol error: too big inline request");
    return ParseStatus::kNeedMore;
  }
  if (nl > limits.max_inline_bytes) return Fail(out, "ERR Protocol error: too big inline request");
  std::string_view line = d.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  out.args.clear();
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    if (line[i] == '"' || line[i] == '\'') {
      return Fail(out, "ERR Protocol error: quoted inline arguments are not supported");
    }
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    out.args.push_back(line.substr(i, j - i));
    if (out.args.size() > limits.max_args)
      return Fail(out, "ERR Protocol error: too many arguments");
    i = j;
  }
  out.consumed = nl + 1;
  return ParseStatus::kComplete;
}

}  // namespace

ParseStatus ParseRequest(std::string_view d, const RespLimits& limits, ParsedRequest& out) {
  out.args.clear();
  out.consumed = 0;
  if (d.empty()) return ParseStatus::kNeedMore;
  if (d[0] != '*') return ParseInline(d, limits, out);
  std::size_t e = FindCrlf(d, 1);
  if (e == std::string_view::npos) {
    if (d.size() > 32) return Fail(out, "ERR Protocol error: invalid multibulk length");
    return ParseStatus::kNeedMore;
  }
  long long n = 0;
  if (!ParseInt(d.substr(1, e - 1), n) || n > static_cast<long long>(limits.max_args)) {
    return Fail(out, n > 0 ? "ERR Protocol error: too many arguments (limit " +
                                 std::to_string(limits.max_args) + ")"
                           : "ERR Protocol error: invalid multibulk length");
  }
  std::size_t pos = e + 2;
  if (n <= 0) {
    out.consumed = pos;
    return ParseStatus::kComplete;
  }
  out.args.reserve(static_cast<std::size_t>(n));
  for (long long i = 0; i < n; ++i) {
    if (pos >= d.size()) return ParseStatus::kNeedMore;
    if (d[pos] != '$') {
      return Fail(out, std::string("ERR Protocol error: expected '$', got '") + d[pos] + "'");
    }
    std::size_t le = FindCrlf(d, pos + 1);
    if (le == std::string_view::npos) {
      if (d.size() - pos > 32) return Fail(out, "ERR Protocol error: invalid bulk length");
      return ParseStatus::kNeedMore;
    }
    long long len = 0;
    if (!ParseInt(d.substr(pos + 1, le - pos - 1), len) || len < 0) {
      return Fail(out, "ERR Protocol error: invalid bulk length");
    }
    std::size_t start = le + 2;
    if (static_cast<unsigned long long>(len) > limits.max_request_bytes ||
        start + static_cast<std::size_t>(len) + 2 > limits.max_request_bytes) {
      return Fail(out, "ERR Protocol error: request larger than " +
                           std::to_string(limits.max_request_bytes) + " bytes");
    }
    std::size_t end = start + static_cast<std::size_t>(len);
    if (end + 2 > d.size()) return ParseStatus::kNeedMore;
    if (d[end] != '\r' || d[end + 1] != '\n') {
      return Fail(out, "ERR Protocol error: bulk string not terminated by CRLF");
    }
    out.args.push_back(d.substr(start, static_cast<std::size_t>(len)));
    pos = end + 2;
  }
  out.consumed = pos;
  return ParseStatus::kComplete;
}

namespace {

ParseStatus Scan(std::string_view d, std::size_t& pos, int depth, ReplyInfo* top,
                 std::string* error) {
  if (depth < 0) {
    if (error) *error = "reply nested too deeply";
    return ParseStatus::kError;
  }
  if (pos >= d.size()) return ParseStatus::kNeedMore;
  char t = d[pos];
  std::size_t e = FindCrlf(d, pos + 1);
  if (e == std::string_view::npos) return ParseStatus::kNeedMore;
  std::string_view line = d.substr(pos + 1, e - pos - 1);
  std::size_t after = e + 2;
  auto bad = [&](const char* what) {
    if (error) *error = what;
    return ParseStatus::kError;
  };
  switch (t) {
    case '+':
    case '-':
    case ':':
    case ',':
    case '(':
    case '#':
    case '_':
      if (top != nullptr) {
        top->is_error = t == '-';
        if (t == '-') top->error_text = line;
        if (t == ':') top->is_integer = ParseInt(line, top->integer);
        top->is_simple_ok = t == '+' && line == "OK";
      }
      pos = after;
      return ParseStatus::kComplete;
    case '$':
    case '!':
    case '=': {
      long long len = 0;
      if (!ParseInt(line, len) || len < -1) return bad("invalid bulk length");
      if (len == -1) {
        pos = after;
        return ParseStatus::kComplete;
      }
      std::size_t end = after + static_cast<std::size_t>(len);
      if (end + 2 > d.size()) return ParseStatus::kNeedMore;
      if (top != nullptr && t == '!') {
        top->is_error = true;
        top->error_text = d.substr(after, static_cast<std::size_t>(len));
      }
      pos = end + 2;
      return ParseStatus::kComplete;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      long long n = 0;
      if (!ParseInt(line, n) || n < -1) return bad("invalid aggregate length");
      pos = after;
      if (n <= 0) return ParseStatus::kComplete;
      long long items = (t == '%' || t == '|') ? 2 * n : n;
      for (long long i = 0; i < items; ++i) {
        auto st = Scan(d, pos, depth - 1, nullptr, error);
        if (st != ParseStatus::kComplete) return st;
      }
      return ParseStatus::kComplete;
    }
    default:
      return bad("unknown reply type");
  }
}

}  // namespace

ParseStatus ScanReply(std::string_view d, ReplyInfo& out, std::string* error, int max_depth) {
  out = ReplyInfo{};
  std::size_t pos = 0;
  auto st = Scan(d, pos, max_depth, &out, error);
  if (st == ParseStatus::kComplete) out.length = pos;
  return st;
}

void AppendBulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s.data(), s.size());
  out += "\r\n";
}

void AppendArrayHeader(std::string& out, std::size_t n) {
  out += '*';
  out += std::to_string(n);
  out += "\r\n";
}

void AppendError(std::string& out, std::string_view text) {
  out += '-';
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
  out += "\r\n";
}

void AppendSimple(std::string& out, std::string_view text) {
  out += '+';
  out.append(text.data(), text.size());
  out += "\r\n";
}

void AppendInteger(std::string& out, long long v) {
  out += ':';
  out += std::to_string(v);
  out += "\r\n";
}

void AppendCommand(std::string& out, const std::vector<std::string_view>& args) {
  AppendArrayHeader(out, args.size());
  for (auto a : args) AppendBulk(out, a);
}

}  // namespace shardcast::router
