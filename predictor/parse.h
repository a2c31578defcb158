// Pure text parsers used for ingestion and backfill: CSV `timestamp,value`,
// the Prometheus text exposition format and a Prometheus query_range JSON
// response. None of them does I/O; all of them survive arbitrary input.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "predictor/series.h"
#include "util/expected.h"

namespace shardcast::predictor {

// Parses a timestamp: unix seconds (integer or decimal, e.g. "1700000000" or
// "1700000000.5") or RFC3339 ("2024-01-02T03:04:05Z", "...+02:00",
// fractional seconds allowed; a space instead of 'T' and a missing zone,
// read as UTC, are accepted too). Returns whole unix seconds.
[[nodiscard]] Result<int64_t> ParseTimestamp(std::string_view s);

// Parses a double in C locale ("NaN", "+Inf", "-Inf" accepted). The whole
// string must be consumed.
[[nodiscard]] std::optional<double> ParseDouble(std::string_view s);

// CSV with a header line and two columns `timestamp,value` (header names are
// free; a header whose first cell is not a timestamp is skipped). Blank lines
// and lines starting with '#' are skipped; CRLF is accepted. Errors name the
// line and column, e.g. "line 7, column 2 (value): not a number: 'abc'".
[[nodiscard]] Result<std::vector<Sample>> ParseCsvSeries(std::string_view text);

// ---- Prometheus text exposition format ----
struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0.0;
  std::optional<int64_t> timestamp_ms;
};

struct PromParseResult {
  std::vector<PromSample> samples;
  std::vector<std::string> errors;  // "line N: ..." for every skipped line
};

// Parses the text format line by line. Comments, HELP and TYPE lines are
// skipped; a malformed line is reported in `errors` and skipped. Never
// throws and never reads out of bounds whatever the input. At most
// max_errors errors are recorded (the rest are counted in the last one).
PromParseResult ParsePromText(std::string_view text, size_t max_errors = 100);

// ---- Prometheus HTTP API query_range response ----
struct PromRangeSeries {
  std::map<std::string, std::string> labels;  // the "metric" object
  std::vector<Sample> samples;
};

// Parses
// {"status":"success","data":{"resultType":"matrix","result":[{"metric":{..},"values":[[t,"v"],..]}]}}.
[[nodiscard]] Result<std::vector<PromRangeSeries>> ParsePromQueryRange(std::string_view json);

}  // namespace shardcast::predictor
