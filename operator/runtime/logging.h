// Process logging: one spdlog logger in text or JSON-lines format.
//
// In JSON format every line is one valid JSON object (RFC 8259): the message
// is escaped (quotes, backslashes, control characters, newlines) and any bytes
// that are not valid UTF-8 are replaced by U+FFFD, so a log shipper can parse
// each line whatever a message holds.
//
//   auto logger = runtime::MakeLogger(runtime::LogFormat::kJson, "shardcast", std::cerr);
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace shardcast::runtime {

enum class LogFormat { kText, kJson };

// `s` as the inside of a JSON string (without the surrounding quotes):
// " and \ escaped, control characters as \n, \t, ... or \u00XX, invalid
// UTF-8 replaced by U+FFFD. Valid UTF-8 (non-ASCII included) is kept as is.
std::string JsonEscape(std::string_view s);

// The JSON-lines formatter: {"ts":...,"level":...,"logger":...,"thread":N,"msg":...}
// with ts in UTC RFC3339 with microseconds.
std::unique_ptr<spdlog::formatter> MakeJsonFormatter();

// A logger named `name` writing to stderr in `format`.
std::shared_ptr<spdlog::logger> MakeStderrLogger(LogFormat format, const std::string& name);

// A logger writing to `out` (for tests).
std::shared_ptr<spdlog::logger> MakeStreamLogger(LogFormat format, const std::string& name,
                                                 std::ostream& out);

}  // namespace shardcast::runtime
