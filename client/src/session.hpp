#pragma once
// The device's token pair and its refresh: one refresh at a time (refresh tokens are single use),
// run on a helper thread because it may block, and every caller that asks meanwhile gets its result.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "downbeat/auth.hpp"
#include "guarded.hpp"

namespace downbeat {
struct ClientConfig;
}

namespace downbeat::detail {

class TokenSession {
 public:
  // cfg must outlive this; on_failure (io thread) hears why a refresh failed.
  TokenSession(boost::asio::io_context& ioc, const ClientConfig& cfg, std::function<void(const std::string&)> on_failure);
  ~TokenSession();
  TokenSession(const TokenSession&) = delete;
  TokenSession& operator=(const TokenSession&) = delete;

  // Any thread.
  Tokens tokens() const { return tokens_.copy(); }
  bool can_refresh() const;
  bool expires_within(int64_t seconds) const;  // the JWT's exp is less than this far ahead

  // Io thread. Single flight: a caller arriving while a refresh runs waits for that one and gets its
  // result, woken the moment it completes. False when the server refused the refresh token (join
  // again); network trouble returns true and the next try waits 10 s (see may_try_now).
  boost::asio::awaitable<bool> refresh();
  bool in_flight() const { return flight_->current != nullptr; }
  bool may_try_now() const;  // no failed refresh in the last 10 s

 private:
  struct Flight {
    explicit Flight(boost::asio::io_context& ioc) : done(ioc) {}
    boost::asio::steady_timer done;  // never expires: cancelled when the refresh completes, which wakes the waiters
    bool finished = false;
    bool ok = true;
  };
  struct IoState {
    std::shared_ptr<Flight> current;
    int64_t next_try_wall = 0;
    std::unique_ptr<boost::asio::thread_pool> pool;  // made on first use
  };
  Tokens refresh_blocking(const Tokens& stale) const;  // on the pool thread
  static boost::asio::awaitable<Tokens> refresh_on_pool(const TokenSession* self, Tokens stale);

  boost::asio::io_context& ioc_;
  const ClientConfig& cfg_;
  std::function<void(const std::string&)> on_failure_;
  Guarded<Tokens> tokens_;  // read by Client::tokens() and the connect URL
  IoOnly<IoState> flight_;
};

}  // namespace downbeat::detail
