#include "router/script.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace shardcast::router {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Script, EqualsTheLuaBlockOfTheProtocolDoc) {
  std::string doc = ReadFile(SHARDCAST_PROTOCOL_DOC);
  ASSERT_FALSE(doc.empty()) << SHARDCAST_PROTOCOL_DOC;
  const std::string open = "```lua\n";
  auto start = doc.find(open);
  ASSERT_NE(start, std::string::npos);
  start += open.size();
  auto end = doc.find("```", start);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(doc.substr(start, end - start), std::string(kShardScript));
  EXPECT_EQ(doc.find(open, end), std::string::npos) << "one lua block only";
}

TEST(Script, KeyNames) {
  EXPECT_EQ(MarkerKey(12), "__shardcast:range:12");
  EXPECT_EQ(WriteLogKey(0), "__shardcast:wlog:0");
  EXPECT_EQ(MarkerKey(3).rfind(kReservedPrefix, 0), 0u);
}

}  // namespace
}  // namespace shardcast::router
