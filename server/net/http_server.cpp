#include "server/net/http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sstream>

#include "server/net/request_target.hpp"
#include "server/net/websocket_session.hpp"

namespace downbeat::server {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
namespace asio = boost::asio;
using asio::redirect_error;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

namespace {

Response json_response(const Request& req, http::status status, const json::value& body) {
  Response res{status, req.version()};
  res.set(http::field::server, "downbeatd");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

Response error_response(const Request& req, core::ErrorCode code, const std::string& message, int retry_after = 0) {
  auto res = json_response(req, static_cast<http::status>(core::http_status(code)),
                           json::object{{"error", {{"code", core::to_string(code)}, {"message", message}}}});
  if (retry_after > 0) res.set(http::field::retry_after, std::to_string(retry_after));
  return res;
}

std::string_view mime_type(std::string_view path) {
  auto ext = path.substr(std::min(path.rfind('.'), path.size()));
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".wav") return "audio/wav";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::optional<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Response static_file(const Request& req, const std::string& web_root, std::string_view path) {
  namespace fs = std::filesystem;
  if (web_root.empty()) return error_response(req, core::ErrorCode::not_found, "the web app is not built: run `make build`");
  auto sp = static_path(path);
  if (!sp) return error_response(req, core::ErrorCode::bad_request, "bad path");
  const std::string& rel = sp->rel;
  fs::path file = fs::path(web_root) / rel.substr(1);
  if (sp->app_route) file = fs::path(web_root) / "index.html";  // single page app: /j/CODE and friends
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    if (!fs::exists(fs::path(web_root) / "index.html")) return error_response(req, core::ErrorCode::not_found, "the web app is not built: run `make build`");
    return error_response(req, core::ErrorCode::not_found, "no such file: " + rel);
  }
  auto body = read_file(file);
  if (!body) return error_response(req, core::ErrorCode::not_found, "cannot read " + rel);
  Response res{http::status::ok, req.version()};
  res.set(http::field::server, "downbeatd");
  res.set(http::field::content_type, mime_type(file.string()));
  // Vite's hashed assets never change; everything else must be revalidated so updates reach phones.
  res.set(http::field::cache_control, rel.starts_with("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  if (req.method() != http::verb::head) res.body() = std::move(*body);
  res.prepare_payload();
  return res;
}

std::optional<json::value> parse_body(const Request& req) {
  json::error_code ec;
  json::value v = json::parse(req.body(), ec);
  if (ec) return std::nullopt;
  return v;
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, Hub& hub, ServerOptions opts, std::shared_ptr<asio::ssl::context> ssl)
    : io_(io), hub_(hub), opts_(std::move(opts)), ssl_(std::move(ssl)), acceptor_(io) {}

std::uint16_t HttpServer::start() {
  tcp::endpoint ep(asio::ip::make_address(opts_.address), opts_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return acceptor_.local_endpoint().port();
}

void HttpServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::serve(tcp::socket socket) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  std::string address = ec ? "unknown" : remote.address().to_string();
  if (ssl_) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *ssl_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(15));
    co_await stream.async_handshake(asio::ssl::stream_base::server, redirect_error(use_awaitable, ec));
    if (ec) {
      spdlog::debug("tls.handshake_failed address={} error={}", address, ec.message());
      co_return;
    }
    co_await http_loop(std::move(stream), address);
  } else {
    co_await http_loop(beast::tcp_stream(std::move(socket)), address);
  }
}

bool HttpServer::origin_allowed(std::string_view origin, std::string_view host) const {
  std::string self = std::string(ssl_ ? "https://" : "http://") + std::string(host);
  return origin == self || std::find(opts_.allow_origins.begin(), opts_.allow_origins.end(), origin) != opts_.allow_origins.end();
}

std::optional<std::int64_t> HttpServer::parse_since(const std::string& s) { return parse_since_value(s); }

template <class Stream>
asio::awaitable<bool> HttpServer::write_response(Stream& stream, Response res, const char* route, boost::system::error_code& ec) {
  hub_.metrics().inc("downbeat_http_requests_total", std::string("route=\"") + route + "\",status=\"" + std::to_string(res.result_int()) + "\"");
  bool keep = res.keep_alive();
  co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
  co_return keep && !ec;
}

Response HttpServer::handle_http(const Request& req, const std::string& path, const std::string& address, const char*& route) {
  if (path == "/auth/exchange" || path == "/auth/refresh") {
    route = "auth";
    if (req.method() != http::verb::post) return error_response(req, core::ErrorCode::bad_request, "use POST with a JSON body");
    auto body = parse_body(req);
    if (!body) return error_response(req, core::ErrorCode::bad_request, "body must be JSON");
    try {
      JoinResult r = path == "/auth/exchange" ? hub_.exchange(address, *body) : hub_.refresh(*body);
      return json_response(req, http::status::ok,
                           json::object{{"token", r.token}, {"refresh_token", r.refresh_token}, {"participant", r.participant}, {"room", r.room}});
    } catch (const HttpError& e) {
      return error_response(req, e.code, e.message, e.retry_after_s);
    }
  }
  if (path == "/api/room/codes") {
    route = "codes";
    std::string auth(req[http::field::authorization]);
    std::string bearer = auth.starts_with("Bearer ") ? auth.substr(7) : std::string();
    try {
      return json_response(req, http::status::ok, hub_.room_codes(bearer));
    } catch (const HttpError& e) {
      return error_response(req, e.code, e.message);
    }
  }
  if (path == "/healthz") {
    route = "healthz";
    return json_response(req, http::status::ok, json::object{{"status", "ok"}});
  }
  if (path == "/readyz") {
    route = "readyz";
    bool ready = hub_.ready();
    return json_response(req, ready ? http::status::ok : http::status::service_unavailable,
                         json::object{{"status", ready ? "ready" : "database not writable"}});
  }
  if (path == "/metrics") {
    route = "metrics";
    hub_.update_gauges();
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = hub_.metrics().render();
    res.prepare_payload();
    return res;
  }
  if (req.method() == http::verb::get || req.method() == http::verb::head) return static_file(req, opts_.web_root, path);
  route = "unknown";
  return error_response(req, core::ErrorCode::not_found, "no such endpoint: " + path);
}

template <class Stream>
asio::awaitable<void> HttpServer::http_loop(Stream stream, std::string address) {
  beast::flat_buffer buf;
  boost::system::error_code ec;
  auto& metrics = hub_.metrics();
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(16 * 1024);
    parser.header_limit(16 * 1024);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    co_await http::async_read(stream, buf, parser, redirect_error(use_awaitable, ec));
    if (ec == http::error::body_limit) {
      Request dummy;
      auto res = error_response(dummy, core::ErrorCode::too_large, "request body is larger than 16 KiB");
      res.keep_alive(false);
      co_await write_response(stream, std::move(res), "too_large", ec);
      break;
    }
    if (ec) break;
    Request& req = parser.get();
    auto url = boost::urls::parse_origin_form(req.target());
    std::string path = url ? std::string(url->path()) : std::string();

    if (!url) {
      if (!co_await write_response(stream, error_response(req, core::ErrorCode::bad_request, "malformed request target"), "invalid", ec)) break;
      continue;
    }

    if (path == "/ws") {
      std::optional<Response> refusal;
      Claims claims;
      std::optional<std::int64_t> since;
      if (!websocket::is_upgrade(req)) {
        refusal = error_response(req, core::ErrorCode::bad_request, "/ws needs a WebSocket upgrade");
      } else if (auto origin = req[http::field::origin]; !origin.empty() && !origin_allowed(origin, req[http::field::host])) {
        // Same origin, or one the operator allowed; tools without a browser send no Origin.
        metrics.inc("downbeat_auth_failures_total", "reason=\"origin\"");
        spdlog::warn("ws.origin_refused address={} origin={}", address, std::string(origin));
        refusal = error_response(req, core::ErrorCode::forbidden, "origin not allowed: open the app from this server, or start downbeatd with --allow-origin");
      } else {
        try {
          claims = hub_.authorize(query_param(*url, "token"), address);
          if (auto s = query_param(*url, "since"); !s.empty()) {
            since = parse_since(s);
            if (!since) refusal = error_response(req, core::ErrorCode::bad_request, "since must be a non-negative integer (the last seq you saw)");
          }
        } catch (const HttpError& e) {
          refusal = error_response(req, e.code, e.message, e.retry_after_s);
        }
      }
      if (refusal) {
        refusal->keep_alive(false);
        co_await write_response(stream, std::move(*refusal), "ws", ec);
        break;
      }
      metrics.inc("downbeat_http_requests_total", "route=\"ws\",status=\"101\"");
      beast::get_lowest_layer(stream).expires_never();
      auto session = std::make_shared<WebSocketSession<Stream>>(std::move(stream), hub_, opts_.max_send_queue, opts_.max_frame_bytes);
      session->address = address;
      co_await session->run(parser.release(), claims, since);
      co_return;
    }

    const char* route = "static";
    Response res = handle_http(req, path, address, route);
    bool keep = co_await write_response(stream, std::move(res), route, ec);
    if (!keep) break;
  }
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  } else {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(redirect_error(use_awaitable, ec));
  }
}

}  // namespace downbeat::server
