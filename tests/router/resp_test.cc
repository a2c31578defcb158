#include "router/resp.h"

#include <gtest/gtest.h>

namespace shardcast::router {
namespace {

TEST(Resp, ParsesMultibulkAndPipelinedRequests) {
  std::string buf = "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*1\r\n$4\r\nPING\r\n";
  ParsedRequest r;
  ASSERT_EQ(ParseRequest(buf, {}, r), ParseStatus::kComplete);
  ASSERT_EQ(r.args.size(), 2u);
  EXPECT_EQ(r.args[1], "foo");
  std::string_view rest = std::string_view(buf).substr(r.consumed);
  ASSERT_EQ(ParseRequest(rest, {}, r), ParseStatus::kComplete);
  EXPECT_EQ(r.args[0], "PING");
  EXPECT_EQ(r.consumed, rest.size());
}

TEST(Resp, NeedsMoreOnEveryPrefix) {
  std::string buf = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nv!\r\n";
  ParsedRequest r;
  for (std::size_t i = 0; i < buf.size(); ++i) {
    EXPECT_EQ(ParseRequest(std::string_view(buf).substr(0, i), {}, r), ParseStatus::kNeedMore) << i;
  }
  ASSERT_EQ(ParseRequest(buf, {}, r), ParseStatus::kComplete);
  EXPECT_EQ(r.args[2], "v\r\nv!");
}

TEST(Resp, InlineCommands) {
  ParsedRequest r;
  ASSERT_EQ(ParseRequest("PING\r\n", {}, r), ParseStatus::kComplete);
  EXPECT_EQ(r.args.size(), 1u);
  ASSERT_EQ(ParseRequest("  set a  b\n", {}, r), ParseStatus::kComplete);
  EXPECT_EQ(r.args.size(), 3u);
  ASSERT_EQ(ParseRequest("\r\n", {}, r), ParseStatus::kComplete);
  EXPECT_TRUE(r.args.empty());
}

TEST(Resp, EnforcesLimitsAndRejectsGarbage) {
  RespLimits lim;
  lim.max_args = 4;
  lim.max_request_bytes = 64;
  lim.max_inline_bytes = 16;
  ParsedRequest r;
  EXPECT_EQ(ParseRequest("*5\r\n", lim, r), ParseStatus::kError);
  EXPECT_NE(r.error.find("too many arguments"), std::string::npos);
  EXPECT_EQ(ParseRequest("*1\r\n$100\r\n", lim, r), ParseStatus::kError);
  EXPECT_NE(r.error.find("larger than 64"), std::string::npos);
  EXPECT_EQ(ParseRequest(std::string(20, 'x'), lim, r), ParseStatus::kError);
  EXPECT_EQ(ParseRequest("*1\r\n:12\r\n", lim, r), ParseStatus::kError);
  EXPECT_EQ(ParseRequest("*x\r\n", lim, r), ParseStatus::kError);
  EXPECT_EQ(ParseRequest("*1\r\n$-5\r\n", lim, r), ParseStatus::kError);
  EXPECT_EQ(ParseRequest("*1\r\n$1\r\nab\r\n", lim, r), ParseStatus::kError);
  EXPECT_EQ(ParseRequest("*99999999999999999999999\r\n", {}, r), ParseStatus::kError);
}

TEST(Resp, ScansRepliesOfEveryType) {
  ReplyInfo info;
  std::string err;
  ASSERT_EQ(ScanReply("+OK\r\nrest", info, &err), ParseStatus::kComplete);
  EXPECT_EQ(info.length, 5u);
  EXPECT_TRUE(info.is_simple_ok);
  ASSERT_EQ(ScanReply("-SHARDCAST ASK 1.2.3.4:5\r\n", info, &err), ParseStatus::kComplete);
  EXPECT_TRUE(info.is_error);
  EXPECT_EQ(info.error_text, "SHARDCAST ASK 1.2.3.4:5");
  ASSERT_EQ(ScanReply(":42\r\n", info, &err), ParseStatus::kComplete);
  EXPECT_EQ(info.integer, 42);
  std::string nested = "*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n%1\r\n+k\r\n+v\r\n";
  ASSERT_EQ(ScanReply(nested, info, &err), ParseStatus::kComplete);
  EXPECT_EQ(info.length, nested.size());
  for (std::size_t i = 0; i < nested.size(); ++i) {
    EXPECT_EQ(ScanReply(std::string_view(nested).substr(0, i), info, &err), ParseStatus::kNeedMore);
  }
  EXPECT_EQ(ScanReply("?what\r\n", info, &err), ParseStatus::kError);
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  EXPECT_EQ(ScanReply(deep, info, &err), ParseStatus::kError);
}

TEST(Resp, Encoders) {
  std::string out;
  AppendCommand(out, {"GET", "k"});
  AppendError(out, "ERR a\r\nb");
  AppendInteger(out, -3);
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n-ERR a  b\r\n:-3\r\n");
}

}  // namespace
}  // namespace shardcast::router
