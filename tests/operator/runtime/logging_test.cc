#include "operator/runtime/logging.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace shardcast::runtime {
namespace {

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Logs `msg` through the JSON logger and returns the one parsed line.
nlohmann::json LogOne(const std::string& msg) {
  std::ostringstream out;
  auto logger = MakeStreamLogger(LogFormat::kJson, "shardcast", out);
  logger->info("{}", msg);
  auto lines = Lines(out.str());
  EXPECT_EQ(lines.size(), 1u) << out.str();
  if (lines.empty()) return nullptr;
  try {
    return nlohmann::json::parse(lines[0]);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << lines[0];
    return nullptr;
  }
}

TEST(JsonEscapeTest, QuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonEscape(R"(say "hi" \ bye)"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(JsonEscape("a\nb\rc\td\be\ff"), R"(a\nb\rc\td\be\ff)");
  EXPECT_EQ(JsonEscape(std::string("\x01\x1f\x7f", 3)), R"(\u0001\u001f\u007f)");
  EXPECT_EQ(JsonEscape(std::string("nul\0end", 7)), R"(nul\u0000end)");
}

TEST(JsonEscapeTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonEscape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(JsonEscape("a\xFF"
                       "b"),
            "a" + fffd + "b");                                           // never valid
  EXPECT_EQ(JsonEscape("\xC3"), fffd);                                   // truncated
  EXPECT_EQ(JsonEscape("\xC0\xAF"), fffd + fffd);                        // overlong '/'
  EXPECT_EQ(JsonEscape("\xED\xA0\x80"), fffd + fffd + fffd);             // UTF-16 surrogate
  EXPECT_EQ(JsonEscape("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
  EXPECT_EQ(JsonEscape("\xE2\x82"), fffd + fffd);                        // cut mid-sequence
}

constexpr char kControlChars[] = "ctl \x01\x02\x1b[31m red \x7f nul \0 end";

TEST(JsonLoggerTest, EveryAwkwardMessageIsOneValidJsonLine) {
  const std::vector<std::string> messages = {
      R"(spec.capacity: "abc" is not a quantity)",
      "line one\nline two\r\n\tindented",
      std::string(kControlChars, sizeof(kControlChars) - 1),  // keeps the embedded NUL
      "non-ASCII: Gr\xC3\xBC\xC3\x9F"
      "e \xE6\x97\xA5\xE6\x9C\xAC",
      "invalid UTF-8: \xFF\xFE \xC3 \xED\xA0\x80 end",
      R"(backslash \ and \" and {"json":"inside"})",
      "",
  };
  for (const std::string& m : messages) {
    nlohmann::json j = LogOne(m);
    ASSERT_TRUE(j.is_object()) << m;
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["logger"], "shardcast");
    EXPECT_TRUE(j["thread"].is_number_integer());
    EXPECT_TRUE(j["ts"].is_string());
    EXPECT_EQ(j["ts"].get<std::string>().back(), 'Z');
    ASSERT_TRUE(j["msg"].is_string());
    if (m.find('\xFF') == std::string::npos) {
      EXPECT_EQ(j["msg"].get<std::string>(), m);  // round-trips exactly
    } else {
      EXPECT_EQ(j["msg"].get<std::string>().rfind("invalid UTF-8: \xEF\xBF\xBD", 0), 0u);
    }
  }
}

TEST(JsonLoggerTest, LevelsAndFields) {
  std::ostringstream out;
  auto logger = MakeStreamLogger(LogFormat::kJson, "shardcast", out);
  logger->set_level(spdlog::level::trace);
  logger->warn("w {}", 1);
  logger->error("e \"{}\"", "x");
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 2u);
  auto w = nlohmann::json::parse(lines[0]);
  auto e = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(w["level"], "warning");
  EXPECT_EQ(w["msg"], "w 1");
  EXPECT_EQ(e["level"], "error");
  EXPECT_EQ(e["msg"], "e \"x\"");
  EXPECT_EQ(w.size(), 5u) << lines[0];  // ts, level, logger, thread, msg
}

TEST(TextLoggerTest, KeepsTheHumanFormat) {
  std::ostringstream out;
  auto logger = MakeStreamLogger(LogFormat::kText, "shardcast", out);
  logger->info("hello \"you\"");
  const std::string s = out.str();
  EXPECT_NE(s.find(" info hello \"you\"\n"), std::string::npos) << s;
  EXPECT_EQ(s[4], '-');
}

}  // namespace
}  // namespace shardcast::runtime
