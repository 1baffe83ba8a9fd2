// Commands awaiting their reply: each callback runs exactly once, with the reply, a timeout or a disconnect.
#include "commands.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace downbeat;
using namespace std::chrono_literals;

TEST(PendingCommands, AReplyCompletesTheCommandOnceAndItsTimeoutNeverFires) {
  boost::asio::io_context ioc;
  detail::PendingCommands commands(ioc);
  std::vector<CommandResult> results;
  const auto id = commands.next_id('c');
  commands.add(id, 1ms, [&](const CommandResult& r) { results.push_back(r); });
  EXPECT_TRUE(commands.complete(id, CommandResult{true, 42, {}, {}}));
  EXPECT_FALSE(commands.complete(id, CommandResult{true, 43, {}, {}}));  // a duplicate reply is not ours any more
  ioc.run();  // the cancelled timeout runs out here
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok);
  ASSERT_TRUE(results[0].seq);
  EXPECT_EQ(*results[0].seq, 42);
}

TEST(PendingCommands, NoReplyEndsInATimeoutThatSaysSo) {
  boost::asio::io_context ioc;
  detail::PendingCommands commands(ioc);
  std::vector<CommandResult> results;
  const auto id = commands.next_id('c');
  commands.add(id, 1ms, [&](const CommandResult& r) { results.push_back(r); });
  ioc.run();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].ok);
  EXPECT_EQ(results[0].code, "timeout");
  EXPECT_FALSE(results[0].message.empty());
  EXPECT_FALSE(commands.complete(id, CommandResult{true, 1, {}, {}}));  // a late ack finds nobody waiting
}

TEST(PendingCommands, ADropFailsEveryWaitingCommandWithTheReason) {
  boost::asio::io_context ioc;
  detail::PendingCommands commands(ioc);
  std::vector<std::string> codes;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(commands.next_id('c'));
    commands.add(ids.back(), 10s, [&](const CommandResult& r) { codes.push_back(r.code + ": " + r.message); });
  }
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(ids[0].front(), 'c');
  commands.fail_all("connection lost");
  ioc.run();  // returns at once: the timeouts were cancelled
  ASSERT_EQ(codes.size(), 3u);
  for (const auto& c : codes) EXPECT_EQ(c, "disconnected: connection lost");
}
