#include "predictor/parse.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/time.h"

namespace shardcast::predictor {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 40))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 40) out += "...";
  return out + "'";
}

// The lines of a text, numbered from 1, without their "\n" or "\r\n".
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}

  // False after the last line.
  bool Next(std::string_view* line) {
    if (pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) nl = text_.size();
    *line = text_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    ++line_no_;
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    return true;
  }
  size_t line_no() const { return line_no_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t line_no_ = 0;
};

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::optional<double> ParseDouble(std::string_view s) {
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  std::string_view body = s;
  bool neg = false;
  if (body.front() == '+' || body.front() == '-') {
    neg = body.front() == '-';
    body.remove_prefix(1);
  }
  auto ieq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
  };
  if (ieq(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  if (ieq(body, "inf") || ieq(body, "infinity"))
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  if (body.empty() || body.front() == '+' || body.front() == '-') return std::nullopt;
  double v = 0;
  auto res = std::from_chars(body.data(), body.data() + body.size(), v);
  if (res.ec == std::errc::result_out_of_range) {
    // Too large: saturate to infinity; too small: zero.
    bool big = false;
    for (char c : body)
      if (c == 'e' || c == 'E') {
        big = body.find('-', static_cast<size_t>(&c - body.data())) == std::string_view::npos;
        break;
      }
    v = big ? std::numeric_limits<double>::infinity() : 0.0;
  } else if (res.ec != std::errc() || res.ptr != body.data() + body.size()) {
    return std::nullopt;
  }
  return neg ? -v : v;
}

Result<int64_t> ParseTimestamp(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  if (s.empty()) return unexpected(Error{"empty timestamp"});
  // Unix seconds.
  if (s.find('-', 1) == std::string_view::npos && s.find(':') == std::string_view::npos) {
    auto d = ParseDouble(s);
    if (!d || !std::isfinite(*d)) return unexpected(Error{"not a timestamp: " + Quote(s)});
    if (std::fabs(*d) > 1e13) return unexpected(Error{"timestamp out of range: " + Quote(s)});
    return static_cast<int64_t>(std::floor(*d));
  }
  // RFC3339: YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|+hh:mm|-hh:mm], no zone = UTC.
  auto t = util::ParseRfc3339Time(s, {.space_separator = true, .optional_zone = true});
  if (!t) return unexpected(Error{"not an RFC3339 timestamp or unix seconds: " + Quote(s)});
  return t->seconds;
}

Result<std::vector<Sample>> ParseCsvSeries(std::string_view text) {
  std::vector<Sample> out;
  LineReader lines(text);
  std::string_view line;
  bool first_data_line = true;
  while (lines.Next(&line)) {
    std::string_view t = Trim(line);
    if (t.empty() || t.front() == '#') continue;
    const size_t comma = line.find(',');
    const std::string where = "line " + std::to_string(lines.line_no());
    if (comma == std::string_view::npos) {
      if (first_data_line) {  // a one-column header is still a header
        first_data_line = false;
        continue;
      }
      return unexpected(Error{where + ": expected 2 columns 'timestamp,value', found 1"});
    }
    std::string_view c1 = line.substr(0, comma), c2 = line.substr(comma + 1);
    if (c2.find(',') != std::string_view::npos)
      return unexpected(Error{where + ": expected 2 columns 'timestamp,value', found more"});
    auto ts = ParseTimestamp(c1);
    if (!ts) {
      if (first_data_line) {  // header
        first_data_line = false;
        continue;
      }
      return unexpected(Error{where + ", column 1 (timestamp): " + ts.error().message});
    }
    first_data_line = false;
    std::string_view vs = Trim(c2);
    if (vs.size() >= 2 && vs.front() == '"' && vs.back() == '"') vs = vs.substr(1, vs.size() - 2);
    auto v = ParseDouble(vs);
    if (!v) return unexpected(Error{where + ", column 2 (value): not a number: " + Quote(vs)});
    out.push_back({*ts, *v});
  }
  if (out.empty())
    return unexpected(Error{"csv: no data rows (expected 'timestamp,value' lines after a header)"});
  return out;
}

// ---------------- Prometheus text format ----------------

namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsLabelStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsLabelChar(char c) { return IsLabelStart(c) || (c >= '0' && c <= '9'); }

void SkipWs(std::string_view line, size_t& i) {
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
}

// The rest of a quoted label value, `i` just after its opening quote, into
// `val` (escapes \n, \\ and \" decoded); returns an error message or empty.
std::string ParseLabelValue(std::string_view line, size_t& i, const std::string& lname,
                            std::string& val) {
  const size_t n = line.size();
  bool closed = false;
  while (i < n) {
    char c = line[i++];
    if (c == '"') {
      closed = true;
      break;
    }
    if (c == '\\') {
      if (i >= n) break;
      char e = line[i++];
      if (e == 'n')
        val += '\n';
      else if (e == '\\')
        val += '\\';
      else if (e == '"')
        val += '"';
      else
        return "invalid escape '\\" + std::string(1, e) + "' in label " + lname;
    } else {
      val += c;
    }
  }
  if (!closed) return "unterminated value of label " + lname;
  return "";
}

// The label set of a sample, `i` just after its '{', up to and including its
// '}'; returns an error message or empty.
std::string ParseLabelSet(std::string_view line, size_t& i,
                          std::map<std::string, std::string>& labels) {
  const size_t n = line.size();
  while (true) {
    SkipWs(line, i);
    if (i >= n) return "unterminated label set";
    if (line[i] == '}') {
      ++i;
      return "";
    }
    if (!IsLabelStart(line[i])) return "invalid label name at column " + std::to_string(i + 1);
    size_t start = i;
    while (i < n && IsLabelChar(line[i])) ++i;
    std::string lname(line.substr(start, i - start));
    SkipWs(line, i);
    if (i >= n || line[i] != '=') return "expected '=' after label " + lname;
    ++i;
    SkipWs(line, i);
    if (i >= n || line[i] != '"') return "expected '\"' to open the value of label " + lname;
    ++i;
    std::string val;
    if (std::string err = ParseLabelValue(line, i, lname, val); !err.empty()) return err;
    if (labels.count(lname)) return "duplicate label " + lname;
    labels.emplace(std::move(lname), std::move(val));
    SkipWs(line, i);
    if (i < n && line[i] == ',') {
      ++i;
      continue;
    }
    SkipWs(line, i);
    if (i < n && line[i] == '}') {
      ++i;
      return "";
    }
    return "expected ',' or '}' in label set";
  }
}

// Parses one sample line; returns an error message or empty on success.
std::string ParsePromLine(std::string_view line, PromSample& out) {
  size_t i = 0;
  const size_t n = line.size();
  auto skip_ws = [&]() { SkipWs(line, i); };
  skip_ws();
  if (i >= n || !IsNameStart(line[i])) return "expected a metric name";
  size_t start = i;
  while (i < n && IsNameChar(line[i])) ++i;
  out.name = std::string(line.substr(start, i - start));
  size_t before_ws = i;
  skip_ws();
  if (i < n && line[i] == '{') {
    ++i;
    if (std::string err = ParseLabelSet(line, i, out.labels); !err.empty()) return err;
    before_ws = i;
    skip_ws();
  }
  if (i == before_ws || i >= n) return "expected a space and a value after the metric";
  start = i;
  while (i < n && line[i] != ' ' && line[i] != '\t') ++i;
  auto v = ParseDouble(line.substr(start, i - start));
  if (!v)
    return "invalid value '" + std::string(line.substr(start, std::min<size_t>(i - start, 40))) +
           "'";
  out.value = *v;
  skip_ws();
  if (i < n) {
    start = i;
    while (i < n && line[i] != ' ' && line[i] != '\t') ++i;
    std::string_view ts = line.substr(start, i - start);
    std::string_view digits = ts;
    if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
    if (!AllDigits(digits) || digits.size() > 18) return "invalid timestamp";
    int64_t t = 0;
    std::from_chars(ts.data(), ts.data() + ts.size(), t);
    out.timestamp_ms = t;
    skip_ws();
    if (i < n) return "trailing characters after timestamp";
  }
  return "";
}

}  // namespace

PromParseResult ParsePromText(std::string_view text, size_t max_errors) {
  PromParseResult r;
  LineReader lines(text);
  std::string_view line;
  size_t dropped = 0;
  while (lines.Next(&line)) {
    std::string_view t = Trim(line);
    if (t.empty() || t.front() == '#') continue;  // comments, HELP, TYPE
    PromSample s;
    std::string err = ParsePromLine(line, s);
    if (err.empty()) {
      r.samples.push_back(std::move(s));
    } else if (r.errors.size() < max_errors) {
      r.errors.push_back("line " + std::to_string(lines.line_no()) + ": " + err);
    } else {
      ++dropped;
    }
  }
  if (dropped > 0)
    r.errors.push_back("... and " + std::to_string(dropped) + " more malformed lines");
  return r;
}

Result<std::vector<PromRangeSeries>> ParsePromQueryRange(std::string_view text) {
  nlohmann::json j =
      nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return unexpected(Error{"query_range: not valid JSON"});
  if (!j.is_object()) return unexpected(Error{"query_range: top level is not an object"});
  if (j.contains("status") && j["status"] != "success") {
    std::string msg =
        j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
    return unexpected(Error{"query_range: status is not success: " + msg});
  }
  if (!j.contains("data") || !j["data"].is_object())
    return unexpected(Error{"query_range: missing field data"});
  const auto& data = j["data"];
  if (data.contains("resultType") && data["resultType"] != "matrix")
    return unexpected(Error{"query_range: data.resultType must be matrix"});
  if (!data.contains("result") || !data["result"].is_array())
    return unexpected(Error{"query_range: missing field data.result"});
  std::vector<PromRangeSeries> out;
  size_t k = 0;
  for (const auto& r : data["result"]) {
    const std::string where = "query_range: data.result[" + std::to_string(k++) + "]";
    if (!r.is_object()) return unexpected(Error{where + " is not an object"});
    PromRangeSeries s;
    if (r.contains("metric")) {
      if (!r["metric"].is_object()) return unexpected(Error{where + ".metric is not an object"});
      for (auto it = r["metric"].begin(); it != r["metric"].end(); ++it)
        if (it.value().is_string()) s.labels[it.key()] = it.value().get<std::string>();
    }
    if (!r.contains("values") || !r["values"].is_array())
      return unexpected(Error{where + ".values is missing or not an array"});
    size_t vi = 0;
    for (const auto& p : r["values"]) {
      const std::string pw = where + ".values[" + std::to_string(vi++) + "]";
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_string())
        return unexpected(Error{pw + ": expected [unix_seconds, \"value\"]"});
      const double t = p[0].get<double>();
      if (!std::isfinite(t) || std::fabs(t) > 1e13)
        return unexpected(Error{pw + ": timestamp out of range"});
      auto v = ParseDouble(p[1].get<std::string>());
      if (!v) return unexpected(Error{pw + ": value is not a number"});
      s.samples.push_back({static_cast<int64_t>(std::floor(t)), *v});
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace shardcast::predictor
