#pragma once
// The two HTTP calls around a session: exchanging a join code and refreshing a token pair (refresh tokens rotate on every use).
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "downbeat/tls.hpp"
#include "downbeat/url.hpp"

namespace downbeat {

struct Tokens {
  std::string token;          // JWT for /ws, about 15 minutes
  std::string refresh_token;  // opaque, single use
};

struct Session {
  Tokens tokens;
  boost::json::object participant;  // {id, name, role, online, slot}
  boost::json::object room;         // {id, name}
};

// POST /auth/exchange. Throws downbeat::Error (code from the server's JSON error, or "network" / "tls").
Session exchange_code(const ServerUrl& server, std::string_view code, std::string_view name, std::string_view device_id,
                      const TlsOptions& tls = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// POST /auth/refresh. The old refresh token is spent even if the caller loses the reply: persist the new one at once.
Session refresh_session(const ServerUrl& server, std::string_view refresh_token, const TlsOptions& tls = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The `exp` claim (seconds since the Unix epoch) of a JWT, read without verifying it (the server verifies).
std::optional<int64_t> jwt_expiry(std::string_view jwt);

}  // namespace downbeat
