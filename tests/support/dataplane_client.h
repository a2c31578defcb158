// A router stand-in for data-plane tests: runs every command through the
// shard script of docs/dataplane-protocol.md (extracted from the ```lua
// block of that page), as a batch of one, and follows ASK / MOVED as the
// page's table says.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/processes.h"

namespace shardcast::testsupport {

inline std::string ProtocolLuaScript() {
  const char* src = std::getenv("SHARDCAST_SOURCE_DIR");
  std::ifstream in(std::string(src ? src : SHARDCAST_SOURCE_DIR_DEFAULT) +
                   "/docs/dataplane-protocol.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto open = doc.find("```lua\n");
  if (open == std::string::npos) return "";
  const auto body = open + 7;
  const auto close = doc.find("```", body);
  return doc.substr(body, close - body);
}

class DataplaneClient {
 public:
  DataplaneClient(std::uint32_t range, int owner_port) : range_(range), owner_(owner_port) {
    script_ = ProtocolLuaScript();
  }

  // Runs argv (its key at argv[1]) with flags "w" (write) or "" (read) or
  // "e" (echo read, sent to `port` without redirects).
  RedisClient::Rep Run(const std::string& flags, const std::vector<std::string>& argv,
                       int port = 0) {
    int target = port != 0 ? port : owner_;
    std::string f = flags;
    for (int hop = 0; hop < 20; ++hop) {
      RedisClient::Rep r = Eval(target, f, argv);
      if (!r.err() || flags.find('e') != std::string::npos) return r;
      if (r.str.rfind("SHARDCAST ASK ", 0) == 0) {
        target = PortOf(r.str.substr(14));
        if (f.find('a') == std::string::npos) f += "a";
        continue;
      }
      if (r.str.rfind("SHARDCAST MOVED ", 0) == 0) {
        const std::string rest = r.str.substr(16);
        owner_ = PortOf(rest.substr(rest.find(' ') + 1));
        target = owner_;
        f = flags;
        ++moved_;
        continue;
      }
      if (r.str == "SHARDCAST TRYAGAIN") {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      return r;
    }
    RedisClient::Rep r;
    r.type = REDIS_REPLY_ERROR;
    r.str = "too many redirects";
    return r;
  }
  int owner() const { return owner_; }
  int moved() const { return moved_; }

 private:
  static int PortOf(const std::string& ep) { return std::stoi(ep.substr(ep.rfind(':') + 1)); }

  RedisClient& Conn(int port) {
    auto& c = conns_[port];
    if (!c || !c->ok()) c = std::make_unique<RedisClient>(port);
    return *c;
  }
  RedisClient::Rep Eval(int port, const std::string& flags, const std::vector<std::string>& argv) {
    // A batch of one command: header = argc * 65536 + range index (1) * 8 + flags.
    long long bits = (flags.find('a') != std::string::npos ? 1 : 0) |
                     (flags.find('w') != std::string::npos ? 2 : 0) |
                     (flags.find('e') != std::string::npos ? 4 : 0);
    long long header = static_cast<long long>(argv.size()) * 65536 + 8 + bits;
    std::vector<std::string> cmd = {"EVAL",
                                    script_,
                                    "2",
                                    "__shardcast:range:" + std::to_string(range_),
                                    "__shardcast:wlog:" + std::to_string(range_),
                                    "1",
                                    std::to_string(header)};
    cmd.insert(cmd.end(), argv.begin(), argv.end());
    RedisClient::Rep r = Conn(port).Cmd(cmd);
    if (r.err() && r.str == "connection error") conns_.erase(port);
    if (r.type == REDIS_REPLY_ARRAY && r.elements.size() == 1) return r.elements[0];
    return r;
  }

  std::uint32_t range_;
  int owner_;
  int moved_ = 0;
  std::string script_;
  std::map<int, std::unique_ptr<RedisClient>> conns_;
};

}  // namespace shardcast::testsupport
