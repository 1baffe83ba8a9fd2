#pragma once
// The commands awaiting their reply: id → callback and timeout. Lives on the io thread only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "downbeat/error.hpp"

namespace downbeat::detail {

class PendingCommands {
 public:
  using Done = std::function<void(const CommandResult&)>;
  explicit PendingCommands(boost::asio::io_context& ioc) : ioc_(ioc) {}
  PendingCommands(const PendingCommands&) = delete;
  PendingCommands& operator=(const PendingCommands&) = delete;

  // A fresh frame id: the prefix says who sent it (c command, i internal, p ping, r resync).
  std::string next_id(char prefix) { return prefix + std::to_string(next_id_++); }

  // done runs once: with the reply, with "timeout" after `timeout`, or with "disconnected" from fail_all().
  void add(const std::string& id, std::chrono::milliseconds timeout, Done done);
  // false when no command with this id waits (already timed out, or not ours).
  bool complete(const std::string& id, const CommandResult& result);
  void fail_all(const std::string& why);

 private:
  struct Pending {
    Done done;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  boost::asio::io_context& ioc_;
  std::map<std::string, Pending> pending_;
  uint64_t next_id_ = 1;
};

}  // namespace downbeat::detail
