#pragma once
// HTTPS + WSS on one port (Beast): JSON API, static web app, WebSocket upgrade into the hub.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/hub/hub.hpp"

namespace downbeat::server {

struct ServerOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 8443;
  bool tls = true;
  std::vector<std::string> allow_origins;
  std::string web_root;
  std::size_t max_send_queue = 1024;
  std::size_t max_frame_bytes = 64 * 1024;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Hub& hub, ServerOptions opts, std::shared_ptr<boost::asio::ssl::context> ssl);
  // Binds and starts accepting; returns the bound port (useful with port 0).
  std::uint16_t start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  template <class Stream>
  boost::asio::awaitable<void> http_loop(Stream stream, std::string address);
  template <class Stream>
  boost::asio::awaitable<bool> write_response(Stream& stream, boost::beast::http::response<boost::beast::http::string_body> res,
                                              const char* route, boost::system::error_code& ec);
  boost::beast::http::response<boost::beast::http::string_body> handle_http(const boost::beast::http::request<boost::beast::http::string_body>& req,
                                                                            const std::string& path, const std::string& address, const char*& route);
  bool origin_allowed(std::string_view origin, std::string_view host) const;
  static std::optional<std::int64_t> parse_since(const std::string& s);

  boost::asio::io_context& io_;
  Hub& hub_;
  ServerOptions opts_;
  std::shared_ptr<boost::asio::ssl::context> ssl_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace downbeat::server
