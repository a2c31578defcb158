#include "router/batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shardcast::router {
namespace {

std::string Bulks(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) AppendBulk(out, a);
  return out;
}

TEST(Batch, HeaderPacksArgcRangeIndexAndFlags) {
  EXPECT_EQ(BatchHeader(3, 1, kFlagWrite), 3u * 65536 + 8 + 2);
  EXPECT_EQ(BatchHeader(2, 5, kFlagAsk | kFlagEcho), 2u * 65536 + 40 + 5);
  EXPECT_EQ(BatchHeader(1000, 256, 0) % 8, 0u);
  EXPECT_EQ(BatchHeader(1000, 256, 0) / 8 % 8192, 256u);
  EXPECT_EQ(BatchHeader(1000, 256, 0) / 65536, 1000u);
}

TEST(Batch, EncodesOneEvalshaWithEachRangeOnce) {
  BatchEncoder b;
  EXPECT_TRUE(b.empty());
  b.Add(7, kFlagWrite, Bulks({"SET", "a", "1"}), 3);
  b.Add(3, 0, Bulks({"GET", "b"}), 2);
  b.Add(7, kFlagAsk, Bulks({"GET", "a"}), 2);
  EXPECT_EQ(b.size(), 3u);
  std::string out = "prefix";
  b.EncodeTo(out, "$3\r\nsha\r\n");
  std::string want = "prefix";
  // 3 + 2R + 1 + sum(1 + argc) = 3 + 4 + 1 + 4 + 3 + 3
  want += "*18\r\n";
  want += Bulks({"EVALSHA", "sha", "4", "__shardcast:range:7", "__shardcast:range:3",
                 "__shardcast:wlog:7", "__shardcast:wlog:3", "2"});
  want += Bulks({std::to_string(3 * 65536 + 8 + 2), "SET", "a", "1"});
  want += Bulks({std::to_string(2 * 65536 + 16), "GET", "b"});
  want += Bulks({std::to_string(2 * 65536 + 8 + 1), "GET", "a"});
  EXPECT_EQ(out, want);
  EXPECT_TRUE(b.empty());
  // The encoder starts over: range 3 is now index 1.
  b.Add(3, 0, Bulks({"GET", "c"}), 2);
  out.clear();
  b.EncodeTo(out, "$3\r\nsha\r\n");
  EXPECT_NE(out.find(Bulks({"2", "__shardcast:range:3", "__shardcast:wlog:3", "1"})),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(Bulks({std::to_string(2 * 65536 + 8), "GET", "c"})), std::string::npos);
}

TEST(Batch, FullAndAlone) {
  BatchEncoder b;
  for (std::size_t i = 0; i + 1 < kMaxBatchCommands; ++i) b.Add(1, 0, Bulks({"GET", "k"}), 2);
  EXPECT_FALSE(b.Full());
  b.Add(2, 0, Bulks({"GET", "k"}), 2);
  EXPECT_TRUE(b.Full());
  EXPECT_FALSE(BatchEncoder::TravelsAlone(kMaxBatchedArgs));
  EXPECT_TRUE(BatchEncoder::TravelsAlone(kMaxBatchedArgs + 1));
  std::string out;
  b.EncodeTo(out, "$1\r\nx\r\n");
  EXPECT_TRUE(out.rfind("*" + std::to_string(3 + 4 + 1 + 3 * kMaxBatchCommands) + "\r\n", 0) == 0);
}

TEST(Batch, SplitsTheArrayReplyInOrder) {
  std::string reply =
      "*5\r\n+OK\r\n$-1\r\n-SHARDCAST ASK 127.0.0.1:7001\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n:42\r\n";
  std::vector<BatchElement> els;
  std::string err;
  ASSERT_TRUE(SplitBatchReply(reply, 5, els, &err)) << err;
  ASSERT_EQ(els.size(), 5u);
  EXPECT_TRUE(els[0].info.is_simple_ok);
  EXPECT_EQ(els[1].bytes, "$-1\r\n");
  EXPECT_TRUE(els[2].info.is_error);
  EXPECT_EQ(els[2].info.error_text, "SHARDCAST ASK 127.0.0.1:7001");
  EXPECT_EQ(els[3].bytes, "*2\r\n$1\r\na\r\n*1\r\n:1\r\n");
  EXPECT_TRUE(els[4].info.is_integer);
  EXPECT_EQ(els[4].info.integer, 42);
}

TEST(Batch, RefusesAReplyOfTheWrongShape) {
  std::vector<BatchElement> els;
  std::string err;
  EXPECT_FALSE(SplitBatchReply("*2\r\n+OK\r\n", 1, els, &err));
  EXPECT_NE(err.find("want 1"), std::string::npos) << err;
  EXPECT_FALSE(SplitBatchReply("*2\r\n+OK\r\n", 2, els, &err));  // one element missing
  EXPECT_FALSE(SplitBatchReply("+OK\r\n", 1, els, &err));
  EXPECT_FALSE(SplitBatchReply("*1\r\n+OK\r\n+OK\r\n", 1, els, &err));
  EXPECT_FALSE(SplitBatchReply("*x\r\n", 1, els, &err));
  EXPECT_FALSE(SplitBatchReply("", 1, els, &err));
}

}  // namespace
}  // namespace shardcast::router
