#pragma once
// HTTPS + WSS on one port (Beast): JSON API, static web app, WebSocket upgrade into the hub.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/hub/hub.hpp"
#include "server/net/net_limits.hpp"
#include "server/net/origin_policy.hpp"

namespace downbeat::server {

struct ServerOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 8443;
  bool tls = true;
  std::vector<std::string> allow_origins;
  // Names and addresses this server answers to (certificate SANs, listen and LAN addresses):
  // the hosts a WebSocket Origin may name.
  std::vector<std::string> served_hosts;
  std::string web_root;
  SessionLimits session;
  int max_ws_per_address = 64;    // admitted WebSocket connections per address (--max-conns-per-ip)
  int max_http_per_address = 64;  // TCP connections per address not (yet) upgraded (--max-http-conns-per-ip)
  std::chrono::seconds handshake_timeout{10};  // TLS handshake, then the first request
  std::chrono::seconds idle_timeout{30};       // a keep-alive connection waiting for its next request
  std::string metrics_token;  // empty: /metrics for loopback peers only
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Hub& hub, ServerOptions opts, std::shared_ptr<boost::asio::ssl::context> ssl);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Binds and starts accepting; returns the bound port (useful with port 0).
  std::uint16_t start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, std::string address, AddressSlot slot);
  template <class Stream>
  boost::asio::awaitable<void> http_loop(Stream stream, std::string address, AddressSlot slot);
  template <class Stream>
  boost::asio::awaitable<bool> write_response(Stream& stream, boost::beast::http::response<boost::beast::http::string_body> res,
                                              const char* route, std::string_view host, boost::system::error_code& ec);
  boost::beast::http::response<boost::beast::http::string_body> handle_http(const boost::beast::http::request<boost::beast::http::string_body>& req,
                                                                            const std::string& path, const std::string& address, const char*& route);
  boost::beast::http::response<boost::beast::http::string_body> metrics_response(const boost::beast::http::request<boost::beast::http::string_body>& req,
                                                                                 const std::string& address);
  void add_security_headers(boost::beast::http::response<boost::beast::http::string_body>& res, std::string_view host) const;
  static std::optional<std::int64_t> parse_since(const std::string& s);

  boost::asio::io_context& io_;
  Hub& hub_;
  ServerOptions opts_;
  std::shared_ptr<boost::asio::ssl::context> ssl_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<NetState> net_ = std::make_shared<NetState>();
  OriginPolicy origins_;
  std::string web_root_canonical_;
};

}  // namespace downbeat::server
