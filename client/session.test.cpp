// The token refresh seen by the SDK's callers: one refresh at a time, its result shared, waiters woken by it.
#include "session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <atomic>
#include <future>
#include <optional>
#include <vector>

#include "downbeat/client.hpp"

using namespace downbeat;
namespace asio = boost::asio;

namespace {

// A refresher that blocks on the pool thread until the test releases it, as a slow /auth/refresh would.
struct SlowRefresher {
  std::atomic<int> calls{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bool refuse = false;

  Tokens operator()(const Tokens& stale) {
    const int n = ++calls;
    released.wait();
    if (refuse) throw Error("unauthorized", "refresh token revoked: join again", 401);
    return Tokens{"fresh-" + std::to_string(n), stale.refresh_token + "+"};
  }
};

struct Fixture {
  explicit Fixture(SlowRefresher& r) : cfg(config_for(r)) {}
  static ClientConfig config_for(SlowRefresher& r) {
    ClientConfig c;
    c.tokens = Tokens{"stale", "r0"};
    c.refresher = [&r](const Tokens& t) { return r(t); };
    return c;
  }
  asio::io_context ioc;
  ClientConfig cfg;
  std::vector<std::string> failures;
  detail::TokenSession session{ioc, cfg, [this](const std::string& why) { failures.push_back(why); }};

  // A caller of refresh() whose result lands in `out` (set once its coroutine has finished).
  void call(std::optional<bool>& out) {
    asio::co_spawn(ioc, session.refresh(), [&out](std::exception_ptr e, bool ok) {
      if (e) std::rethrow_exception(e);
      out = ok;
    });
  }
  void run_until(const std::optional<bool>& done) {
    while (!done) {
      if (ioc.stopped()) ioc.restart();
      ioc.run_one();
    }
  }
};

}  // namespace

TEST(TokenRefresh, ACallerArrivingMidRefreshSharesItAndWakesWhenItCompletes) {
  SlowRefresher refresher;
  Fixture f(refresher);
  std::optional<bool> first, second;
  f.call(first);
  f.call(second);
  f.ioc.poll();  // both start: the first on the pool thread, the second waiting for it
  EXPECT_FALSE(first);
  EXPECT_FALSE(second);

  refresher.release.set_value();
  f.run_until(first);
  // No timer stands between the refresh's end and its waiter: what is ready to run now finishes it.
  f.ioc.poll();
  ASSERT_TRUE(second) << "the waiting caller was not woken by the refresh it waited for";
  EXPECT_TRUE(*first);
  EXPECT_TRUE(*second);
  EXPECT_EQ(refresher.calls, 1);  // one refresh token spent, not two (a reused one revokes the device)
  EXPECT_EQ(f.session.tokens().token, "fresh-1");
  EXPECT_EQ(f.session.tokens().refresh_token, "r0+");
  EXPECT_TRUE(f.failures.empty());
}

TEST(TokenRefresh, ALaterCallerStartsANewRefreshFromTheRotatedToken) {
  SlowRefresher refresher;
  refresher.release.set_value();
  Fixture f(refresher);
  std::optional<bool> first, second;
  f.call(first);
  f.run_until(first);
  f.call(second);
  f.run_until(second);
  EXPECT_EQ(refresher.calls, 2);
  EXPECT_EQ(f.session.tokens().token, "fresh-2");
  EXPECT_EQ(f.session.tokens().refresh_token, "r0++");
}

TEST(TokenRefresh, ARefusedRefreshFailsEveryWaiterAndKeepsTheOldTokens) {
  SlowRefresher refresher;
  refresher.refuse = true;
  Fixture f(refresher);
  std::optional<bool> first, second;
  f.call(first);
  f.call(second);
  f.ioc.poll();
  refresher.release.set_value();
  f.run_until(first);
  f.ioc.poll();
  ASSERT_TRUE(second);
  EXPECT_FALSE(*first);   // refused: the client must stop and ask to join again
  EXPECT_FALSE(*second);
  EXPECT_EQ(refresher.calls, 1);
  EXPECT_EQ(f.session.tokens().token, "stale");
  ASSERT_EQ(f.failures.size(), 1u);  // said once, with the server's reason
  EXPECT_NE(f.failures[0].find("join again"), std::string::npos) << f.failures[0];
}
