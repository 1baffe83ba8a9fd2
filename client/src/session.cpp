#include "session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "downbeat/client.hpp"

namespace downbeat::detail {

namespace asio = boost::asio;

namespace {
int64_t wall_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

TokenSession::TokenSession(asio::io_context& ioc, const ClientConfig& cfg, std::function<void(const std::string&)> on_failure)
    : ioc_(ioc), cfg_(cfg), on_failure_(std::move(on_failure)), tokens_(cfg.tokens), flight_(ioc) {}

// The pool joins its thread here: a refresh blocked in HTTP ends within its own timeout.
TokenSession::~TokenSession() = default;

bool TokenSession::can_refresh() const {
  return cfg_.refresher || tokens_.with([](const Tokens& t) { return !t.refresh_token.empty(); });
}

bool TokenSession::expires_within(int64_t seconds) const {
  const auto exp = tokens_.with([](const Tokens& t) { return jwt_expiry(t.token); });
  return exp && *exp - wall_seconds() < seconds;
}

bool TokenSession::may_try_now() const { return wall_seconds() >= flight_->next_try_wall; }

Tokens TokenSession::refresh_blocking(const Tokens& stale) const {
  if (cfg_.refresher) return cfg_.refresher(stale);
  if (stale.refresh_token.empty()) throw Error("unauthorized", "the token expired and there is no refresh token: join again");
  auto session = refresh_session(cfg_.server, stale.refresh_token, cfg_.tls);
  if (cfg_.on_tokens) cfg_.on_tokens(session);
  return session.tokens;
}

// Parameters by value: they live in the coroutine frame (a capturing lambda's captures would not).
asio::awaitable<Tokens> TokenSession::refresh_on_pool(const TokenSession* self, Tokens stale) {
  co_return self->refresh_blocking(stale);
}

asio::awaitable<bool> TokenSession::refresh() {
  if (auto flight = flight_->current) {
    // Someone else's refresh is running: wait for its completion (it cancels the timer), not for a poll.
    boost::system::error_code ec;
    if (!flight->finished) co_await flight->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return flight->ok;
  }
  auto flight = std::make_shared<Flight>(ioc_);
  flight->done.expires_at(asio::steady_timer::time_point::max());
  flight_->current = flight;
  const Tokens stale = tokens_.copy();
  std::string failure;
  try {
    if (!flight_->pool) flight_->pool = std::make_unique<asio::thread_pool>(1);
    auto fresh = co_await asio::co_spawn(*flight_->pool, refresh_on_pool(this, stale), asio::use_awaitable);
    tokens_.update([&](Tokens& t) { t = std::move(fresh); });
  } catch (const Error& e) {
    flight->ok = e.http_status() != 401 && e.code() != "unauthorized";
    failure = e.what();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) flight_->next_try_wall = wall_seconds() + 10;
  flight->finished = true;
  flight_->current.reset();
  flight->done.cancel();
  if (!failure.empty() && on_failure_) on_failure_("token refresh failed: " + failure);
  co_return flight->ok;
}

}  // namespace downbeat::detail
