// RESP framing for the router: a bounded parser of client requests (RESP
// multibulk and inline commands), a scanner that finds where one reply ends
// (RESP2 and RESP3 types), and encoders. Pure; string_views point into the
// caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shardcast::router {

struct RespLimits {
  std::size_t max_request_bytes = 64 * 1024 * 1024;  // one request, framing included
  std::size_t max_args = 1024 * 1024;                // array length of one request
  std::size_t max_inline_bytes = 64 * 1024;          // one inline command line
};

enum class ParseStatus { kNeedMore, kComplete, kError };

struct ParsedRequest {
  std::vector<std::string_view> args;  // into the parsed buffer
  std::size_t consumed = 0;            // bytes of this request (kComplete)
  std::string error;                   // kError: RESP error text without '-'
};

// Parses the first request in `data`. kNeedMore also means no limit has been
// exceeded yet. An empty request (blank inline line) completes with no args.
ParseStatus ParseRequest(std::string_view data, const RespLimits& limits, ParsedRequest& out);

struct ReplyInfo {
  std::size_t length = 0;       // bytes of the complete reply
  bool is_error = false;        // top-level '-' (or RESP3 '!')
  std::string_view error_text;  // without the '-' and CRLF
  bool is_integer = false;
  long long integer = 0;
  bool is_simple_ok = false;  // "+OK"
};

// Finds the end of the first reply in `data` (nesting at most `max_depth`).
ParseStatus ScanReply(std::string_view data, ReplyInfo& out, std::string* error,
                      int max_depth = 64);

void AppendBulk(std::string& out, std::string_view s);
void AppendArrayHeader(std::string& out, std::size_t n);
void AppendError(std::string& out, std::string_view text);  // text without '-'; CR/LF removed
void AppendSimple(std::string& out, std::string_view text);
void AppendInteger(std::string& out, long long v);
void AppendCommand(std::string& out, const std::vector<std::string_view>& args);

}  // namespace shardcast::router
