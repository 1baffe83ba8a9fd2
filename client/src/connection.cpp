#include "connection.hpp"

#include <algorithm>
#include <boost/beast/websocket.hpp>
#include <deque>

#include "downbeat/client.hpp"
#include "net.hpp"

namespace downbeat::detail {

namespace websocket = boost::beast::websocket;
using asio::awaitable;
using asio::use_awaitable;

namespace {

using plain_ws = websocket::stream<beast::tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

template <class Ws>
struct Conn final : Link {
  template <class... Args>
  explicit Conn(asio::io_context& ioc, Args&&... args) : ws(std::forward<Args>(args)...), wake(ioc), tick(ioc) {}
  void push(Outgoing item) override {
    queue.push_back(std::move(item));
    wake.cancel();
  }
  void hard_close() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws).close();
  }
  Ws ws;
  std::deque<Outgoing> queue;
  asio::steady_timer wake;
  asio::steady_timer tick;
  bool alive = true;
};

template <class Ws>
awaitable<void> writer(std::shared_ptr<Conn<Ws>> c, LinkHandler& handler) {
  boost::system::error_code ec;
  while (c->alive) {
    if (c->queue.empty()) {
      c->wake.expires_at(asio::steady_timer::time_point::max());
      co_await c->wake.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    Outgoing item = std::move(c->queue.front());
    c->queue.pop_front();
    if (item.close) {
      co_await c->ws.async_close(websocket::close_code::normal, asio::redirect_error(use_awaitable, ec));
      if (ec) c->hard_close();
      co_return;
    }
    if (item.ping) item.text = handler.ping_text();
    co_await c->ws.async_write(asio::buffer(item.text), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      c->hard_close();
      co_return;
    }
  }
}

template <class Ws>
awaitable<void> ticker(std::shared_ptr<Conn<Ws>> c, LinkHandler& handler) {
  boost::system::error_code ec;
  while (c->alive) {
    const int64_t sleep_us = std::clamp<int64_t>(handler.on_tick(*c), 1000, 100'000);
    c->tick.expires_after(std::chrono::microseconds(sleep_us));
    co_await c->tick.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

// One connection from TCP connect to the end of its reader.
template <class Ws>
awaitable<void> run_connection(const ClientConfig& cfg, asio::io_context& ioc, asio::ssl::context& ssl_ctx,
                               std::shared_ptr<Conn<Ws>> c, const asio::ip::tcp::resolver::results_type& endpoints,
                               LinkHandler& handler, Outcome& out) {
  auto& tcp = beast::get_lowest_layer(c->ws);
  tcp.expires_after(cfg.connect_timeout);
  co_await tcp.async_connect(endpoints, use_awaitable);
  tcp.socket().set_option(asio::ip::tcp::no_delay(true));  // pings must not wait for Nagle
  if constexpr (std::is_same_v<Ws, tls_ws>) {
    asio::ssl::verify_mode mode{};
    prepare_tls_stream(c->ws.next_layer().native_handle(), ssl_ctx, cfg.server, cfg.tls, &mode);
    if (mode == asio::ssl::verify_peer) c->ws.next_layer().set_verify_callback(asio::ssl::host_name_verification(cfg.server.host));
    co_await c->ws.next_layer().async_handshake(asio::ssl::stream_base::client, use_awaitable);
    check_pin(c->ws.next_layer().native_handle(), cfg.tls);
  }
  tcp.expires_never();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = cfg.connect_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  c->ws.set_option(timeouts);
  c->ws.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "libdownbeat"); }));
  c->ws.read_message_max(16u << 20);  // snapshots carry the whole song library
  c->ws.text(true);

  websocket::response_type res;
  boost::system::error_code ec;
  co_await c->ws.async_handshake(res, cfg.server.host_header(), handler.ws_target(), asio::redirect_error(use_awaitable, ec));
  if (ec) {
    out.unauthorized = res.result() == beast::http::status::unauthorized;
    out.reason = "upgrade refused: HTTP " + std::to_string(res.result_int()) + " " + res.body();
    co_return;
  }

  handler.on_open(c);
  auto on_done = [](std::exception_ptr) {};
  asio::co_spawn(ioc, writer(c, handler), on_done);
  asio::co_spawn(ioc, ticker(c, handler), on_done);

  beast::flat_buffer buffer;
  for (;;) {
    co_await c->ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    const int64_t t3 = cfg.clock();
    const auto data = buffer.cdata();
    if (handler.on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()), t3)) out.got_hello = true;
    buffer.consume(buffer.size());
  }
  c->alive = false;
  c->wake.cancel();
  c->tick.cancel();
  handler.on_close();
  const auto& why = c->ws.reason().reason;
  out.reason = ec == websocket::error::closed ? "closed by the server (" + std::string(why.data(), why.size()) + ")"
                                               : ec.message();
}

}  // namespace

Connector::Connector(asio::io_context& ioc, const ClientConfig& cfg, asio::ssl::context& ssl_ctx)
    : cfg_(cfg), ioc_(ioc), ssl_ctx_(ssl_ctx) {}

awaitable<Outcome> Connector::connect_once(LinkHandler& handler) {
  Outcome out;
  try {
    asio::ip::tcp::resolver resolver{ioc_};
    auto endpoints = co_await resolver.async_resolve(cfg_.server.host, cfg_.server.port, use_awaitable);
    if (cfg_.server.secure) {
      co_await run_connection(cfg_, ioc_, ssl_ctx_, std::make_shared<Conn<tls_ws>>(ioc_, ioc_, ssl_ctx_), endpoints, handler, out);
    } else {
      co_await run_connection(cfg_, ioc_, ssl_ctx_, std::make_shared<Conn<plain_ws>>(ioc_, ioc_), endpoints, handler, out);
    }
  } catch (const Error& e) {
    out.reason = e.what();
  } catch (const boost::system::system_error& e) {
    out.reason = "cannot reach " + cfg_.server.http_base() + ": " + e.code().message();
  }
  co_return out;
}

}  // namespace downbeat::detail
