// One client connection: parses pipelined requests, answers local commands,
// splits multi-key commands by key, and writes replies back in order.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "router/commands.h"
#include "router/decisions.h"
#include "router/proxy/asio.h"
#include "router/resp.h"

namespace shardcast::router::proxy {

class Worker;

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(Worker& worker, boost::asio::ip::tcp::socket socket);
  ~Client();
  void Start();

 private:
  struct Slot {
    bool done = false;
    std::string reply;
  };
  using SlotPtr = std::shared_ptr<Slot>;

  void Read();
  void OnData(std::size_t n);
  void Dispatch(const std::vector<std::string_view>& args, std::size_t bytes);
  void Local(const CommandInfo& cmd, const std::vector<std::string_view>& args, Slot& slot);
  void Hello(const std::vector<std::string_view>& args, Slot& slot);
  void Keyed(const CommandInfo& cmd, const std::vector<std::string_view>& args, std::size_t bytes,
             SlotPtr slot);
  void MultiKey(const CommandInfo& cmd, const std::vector<std::string_view>& args,
                std::size_t bytes, SlotPtr slot);
  void Complete();
  void ScheduleWrite();
  void Write();
  void Close();
  std::string Null() const { return proto_ == 3 ? "_\r\n" : "$-1\r\n"; }

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  std::string rbuf_;
  std::unique_ptr<char[]> chunk_;
  std::deque<SlotPtr> slots_;
  std::size_t waiting_ = 0;  // slots not done
  std::string wbuf_;
  std::string inflight_;
  bool writing_ = false;
  bool write_scheduled_ = false;
  bool close_after_flush_ = false;
  bool closed_ = false;
  int proto_ = 2;
  std::string name_;
  Session session_;
};

}  // namespace shardcast::router::proxy
