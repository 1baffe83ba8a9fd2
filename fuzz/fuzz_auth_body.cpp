// libFuzzer target: an untrusted body of POST /auth/exchange and /auth/refresh through what the
// server does with it: Boost.JSON's parser (the HTTP layer's parse_body) and the hub's decoders
// (Hub::exchange: code, name, device_id; Hub::refresh: refresh_token), against a real in-memory
// SQLite store holding one room with known codes. Every input goes to both endpoints; a join that
// succeeds is refreshed twice (rotation, then reuse detection). Only HttpError may escape: any
// other exception aborts (libFuzzer reports it as a crash).
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <spdlog/spdlog.h>
#include <string_view>

#include "server/clock.hpp"
#include "server/hub/hub.hpp"

using namespace downbeat::server;
namespace json = boost::json;

namespace {
struct World {
  boost::asio::io_context io;
  Storage storage{":memory:"};
  Metrics metrics;
  std::unique_ptr<Hub> hub;
  World() {
    spdlog::set_level(spdlog::level::off);  // a log line per join would be most of the time spent
    // The codes the seed corpus uses (fuzz/corpus/auth_body).
    storage.create_room("rfuzz", "Fuzz", now_us());
    storage.set_codes("rfuzz", {{downbeat::core::Role::md, "MDFUZZCODE"}, {downbeat::core::Role::musician, "MUFUZZCODE"},
                                {downbeat::core::Role::viewer, "VWFUZZCODE"}}, now_us());
    HubConfig cfg;
    // The limiters would otherwise end every path in rate_limited after a few inputs (they are
    // reached, and tested, by the integration tests; here the decoders behind them matter).
    cfg.join_fail_burst = 1e15;
    cfg.joins_per_min_per_address = 1e9;
    cfg.joins_per_min_per_code = 1e9;
    hub = std::make_unique<Hub>(io, storage, metrics, JwtKey{"k1", std::string(32, 'k')}, cfg);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A fresh store and hub every 256 inputs: the participants table would otherwise fill up and
  // end every deeper path in "room full".
  static std::unique_ptr<World> world;
  static unsigned n = 0;
  if (n++ % 256 == 0) {
    world.reset();
    world = std::make_unique<World>();
  }
  World& w = *world;
  json::error_code ec;
  json::value body = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  try {
    JoinResult r = w.hub->exchange("192.0.2.1", body);
    if (r.token.empty() || r.refresh_token.empty()) __builtin_trap();
    json::value again{{"refresh_token", r.refresh_token}};
    JoinResult r2 = w.hub->refresh(again);
    if (r2.refresh_token == r.refresh_token) __builtin_trap();
    try {
      w.hub->refresh(again);  // the old one again: reuse
      __builtin_trap();       // a reused refresh token must never work
    } catch (const HttpError&) {
    }
  } catch (const HttpError&) {
  }
  try {
    w.hub->refresh(body);
  } catch (const HttpError&) {
  }
  return 0;
}
