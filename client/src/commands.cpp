#include "commands.hpp"

namespace downbeat::detail {

void PendingCommands::add(const std::string& id, std::chrono::milliseconds timeout, Done done) {
  auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, timeout);
  timer->async_wait([this, id](boost::system::error_code ec) {
    if (!ec) complete(id, CommandResult{false, std::nullopt, "timeout", "no reply from the server in time"});
  });
  pending_[id] = Pending{std::move(done), std::move(timer)};
}

bool PendingCommands::complete(const std::string& id, const CommandResult& result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  auto pending = std::move(it->second);
  pending_.erase(it);
  pending.timer->cancel();
  pending.done(result);
  return true;
}

void PendingCommands::fail_all(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) {
    p.timer->cancel();
    p.done(CommandResult{false, std::nullopt, "disconnected", why});
  }
}

}  // namespace downbeat::detail
