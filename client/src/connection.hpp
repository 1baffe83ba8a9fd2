#pragma once
// One WebSocket connection to downbeatd at a time (plain or TLS): connect, upgrade, a reader, a
// writer with its queue, and a tick for periodic work. Everything here runs on the io thread.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace downbeat {
struct ClientConfig;
}

namespace downbeat::detail {

struct Outgoing {
  std::string text;
  bool ping = false;   // stamped with t0 at the moment it is written, so queueing never counts as network delay
  bool close = false;  // graceful close handshake
};

// What a live connection offers the rest of the client, whatever its stream type.
class Link {
 public:
  virtual ~Link() = default;
  virtual void push(Outgoing item) = 0;
  virtual void hard_close() = 0;  // the reader fails at once and the connection ends
};

// What the connection asks of the client while a socket is up.
class LinkHandler {
 public:
  virtual ~LinkHandler() = default;
  virtual std::string ws_target() = 0;  // /ws?token=…
  virtual void on_open(const std::shared_ptr<Link>& link) = 0;
  virtual bool on_frame(std::string_view text, int64_t t3) = 0;  // true once this socket's hello came
  virtual std::string ping_text() = 0;                            // a time.ping frame, stamped now
  virtual int64_t on_tick(Link& link) = 0;                        // periodic work; µs until the next tick
  virtual void on_close() = 0;
};

struct Outcome {
  bool got_hello = false;
  bool unauthorized = false;  // the upgrade was refused with 401
  std::string reason;
};

class Connector {
 public:
  // cfg and ssl_ctx must outlive this; ssl_ctx must outlive ioc too (streams die with the io_context).
  Connector(boost::asio::io_context& ioc, const ClientConfig& cfg, boost::asio::ssl::context& ssl_ctx);
  // Resolves, connects and runs one connection until it ends; never throws.
  boost::asio::awaitable<Outcome> connect_once(LinkHandler& handler);

 private:
  const ClientConfig& cfg_;
  boost::asio::io_context& ioc_;
  boost::asio::ssl::context& ssl_ctx_;
};

}  // namespace downbeat::detail
