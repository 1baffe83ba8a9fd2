#include "server/net/http_server.hpp"

#include <charconv>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <filesystem>
#include <fstream>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sstream>

#include "core/import.hpp"
#include "server/hub/songs.hpp"
#include "server/net/request_target.hpp"
#include "server/net/websocket_session.hpp"
#include "server/net/ws_protocols.hpp"

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

// 503 + `internal`: the request was fine, the server could not complete it now.
Response internal_error(const Request& req) {
  auto res = error_response(req, core::ErrorCode::internal,
                            "the server could not complete this request (its disk may be full or read-only): nothing was changed; "
                            "try again in a minute, and tell the operator if it keeps failing",
                            10);
  res.result(http::status::service_unavailable);
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
  if (ext == ".wasm") return "application/wasm";  // streaming compile needs it (nosniff)
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

bool inside(const std::filesystem::path& root, const std::filesystem::path& p) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

// `root` is the canonical web root: what a path resolves to (symlinks followed) must stay under it.
Response static_file(const Request& req, const std::string& web_root, const std::filesystem::path& root, std::string_view path) {
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
  fs::path real = fs::canonical(file, ec);
  if (ec || root.empty() || !inside(root, real)) {
    spdlog::warn("static.outside_root path={}: a symlink leaves the web root, not served", rel);
    return error_response(req, core::ErrorCode::not_found, "no such file: " + rel);
  }
  auto body = read_file(real);
  if (!body) return error_response(req, core::ErrorCode::not_found, "cannot read " + rel);
  Response res{http::status::ok, req.version()};
  res.set(http::field::server, "downbeatd");
  res.set(http::field::content_type, mime_type(file.string()));
  // Vite's hashed assets never change; everything else must be revalidated so updates reach phones.
  res.set(http::field::cache_control, rel.starts_with("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
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

bool is_loopback(const std::string& address) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

std::string address_text(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

bool is_song_import(std::string_view target) {
  constexpr std::string_view route = "/api/room/songs/import";
  return target.starts_with(route) && (target.size() == route.size() || target[route.size()] == '?');
}

std::string bearer_of(const Request& req) {
  std::string auth(req[http::field::authorization]);
  return auth.starts_with("Bearer ") ? auth.substr(7) : std::string();
}

bool same_secret(std::string_view a, std::string_view b) { return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

// A failure that repeats (accept out of descriptors, refused floods) is logged at most once a
// second, with how many there were: a flood must not become a disk-filling log.
class LogThrottle {
 public:
  // The count to report when it is time to log, else 0.
  std::uint64_t tick() {
    ++count_;
    auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < std::chrono::seconds(1)) return 0;
    logged_ = true;
    last_ = now;
    return std::exchange(count_, 0);
  }

 private:
  std::chrono::steady_clock::time_point last_{};
  bool logged_ = false;
  std::uint64_t count_ = 0;
};

// A connection coroutine that throws is logged, never silent (co_spawn's `detached` drops it).
auto log_exception(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("{}.failed error={}", what, x.what());
    } catch (...) {
      spdlog::error("{}.failed error=unknown", what);
    }
  };
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, Hub& hub, ServerOptions opts, std::shared_ptr<asio::ssl::context> ssl)
    : io_(io), hub_(hub), opts_(std::move(opts)), ssl_(std::move(ssl)), acceptor_(io) {
  std::error_code ec;
  if (!opts_.web_root.empty()) web_root_canonical_ = std::filesystem::canonical(opts_.web_root, ec).string();
}

// Sessions outlive the server only at io_context teardown: from then on they must not touch the hub.
HttpServer::~HttpServer() { net_->stopped = true; }

std::uint16_t HttpServer::start() {
  tcp::endpoint ep(asio::ip::make_address(opts_.address), opts_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  std::uint16_t port = acceptor_.local_endpoint().port();
  origins_ = OriginPolicy(ssl_ != nullptr, port, opts_.served_hosts, opts_.allow_origins);
  asio::co_spawn(io_, accept_loop(), log_exception("accept_loop"));
  return port;
}

void HttpServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> HttpServer::accept_loop() {
  using namespace std::chrono_literals;
  auto& metrics = hub_.metrics();
  asio::steady_timer pause(io_);
  std::chrono::milliseconds backoff{0};
  std::uint64_t failures = 0;
  LogThrottle accept_log, refused_log;
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      ++failures;
      namespace errc = boost::system::errc;
      bool exhausted = ec == errc::too_many_files_open || ec == errc::too_many_files_open_in_system || ec == errc::no_buffer_space ||
                       ec == errc::not_enough_memory;
      metrics.inc("downbeat_accept_errors_total", exhausted ? "reason=\"resources\"" : "reason=\"other\"");
      // Out of descriptors the connection stays queued in the kernel: retrying at once spins at 100 % CPU.
      backoff = exhausted ? std::clamp(backoff * 2, std::chrono::milliseconds(50), std::chrono::milliseconds(1000)) : 0ms;
      if (auto n = accept_log.tick())
        spdlog::warn("accept.failed error={} count={} backoff_ms={}{}", ec.message(), n, backoff.count(),
                     exhausted ? ": out of file descriptors, raise LimitNOFILE / ulimit -n or lower --max-http-conns-per-ip" : "");
      if (backoff.count() > 0) {
        pause.expires_after(backoff);
        co_await pause.async_wait(redirect_error(use_awaitable, ec));
      }
      continue;
    }
    if (failures) {
      spdlog::info("accept.recovered failures={}", failures);
      failures = 0;
      backoff = 0ms;
    }
    auto remote = socket.remote_endpoint(ec);
    if (ec) continue;  // already gone
    std::string address = address_text(remote.address());
    // Counted from accept, before any handshake: one host cannot take every descriptor.
    AddressSlot slot = AddressSlot::acquire(net_, &NetState::http_per_address, address_key(remote.address()), opts_.max_http_per_address);
    if (!slot) {
      metrics.inc("downbeat_rate_limited_total", "limit=\"http_conns_per_ip\"");
      if (auto n = refused_log.tick())
        spdlog::warn("connection.refused address={} limit=http_conns_per_ip max={} count={}: closed at once", address, opts_.max_http_per_address, n);
      socket.close(ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, serve(std::move(socket), std::move(address), std::move(slot)), log_exception("connection"));
  }
}

asio::awaitable<void> HttpServer::serve(tcp::socket socket, std::string address, AddressSlot slot) {
  boost::system::error_code ec;
  if (ssl_) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *ssl_);
    beast::get_lowest_layer(stream).expires_after(opts_.handshake_timeout);
    co_await stream.async_handshake(asio::ssl::stream_base::server, redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == beast::error::timeout) hub_.metrics().inc("downbeat_timeouts_total", "phase=\"tls_handshake\"");
      spdlog::debug("tls.handshake_failed address={} error={}", address, ec.message());
      co_return;
    }
    co_await http_loop(std::move(stream), address, std::move(slot));
  } else {
    co_await http_loop(beast::tcp_stream(std::move(socket)), address, std::move(slot));
  }
}

std::optional<std::int64_t> HttpServer::parse_since(const std::string& s) { return parse_since_value(s); }

void HttpServer::add_security_headers(Response& res, std::string_view host) const {
  // Fits the web app: its own scripts and worklets, blob: for the timer worker, WebSockets to itself,
  // and its own WebAssembly (the chart module, core/chart): 'wasm-unsafe-eval' allows compiling wasm only, not eval.
  std::string csp =
      "default-src 'self'; script-src 'self' blob: 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
      "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'";
  // Older Safari does not count ws(s):// as 'self': name this server's own socket, never a stranger's.
  if (auto h = parse_origin(host, ssl_ ? "https" : "http"); h && origins_.serves_host(host))
    csp += std::string(ssl_ ? " wss://" : " ws://") + h->host + ":" + std::to_string(h->port);
  csp += "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
  res.set("Content-Security-Policy", csp);
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Content-Type-Options", "nosniff");
}

template <class Stream>
asio::awaitable<bool> HttpServer::write_response(Stream& stream, Response res, const char* route, std::string_view host,
                                                 boost::system::error_code& ec) {
  add_security_headers(res, host);
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
  if (path == "/auth/peek") {
    route = "auth";
    if (req.method() != http::verb::post) return error_response(req, core::ErrorCode::bad_request, "use POST with a JSON body {code}");
    auto body = parse_body(req);
    if (!body) return error_response(req, core::ErrorCode::bad_request, "body must be JSON");
    try {
      return json_response(req, http::status::ok, hub_.peek(address, *body));
    } catch (const HttpError& e) {
      return error_response(req, e.code, e.message, e.retry_after_s);
    }
  }
  if (path == "/api/room/codes/rotate") {
    route = "codes";
    if (req.method() != http::verb::post) return error_response(req, core::ErrorCode::bad_request, "use POST (body {\"roles\":[\"md\"]}, optional)");
    std::string auth(req[http::field::authorization]);
    std::string bearer = auth.starts_with("Bearer ") ? auth.substr(7) : std::string();
    auto body = req.body().empty() ? std::optional<json::value>(json::object{}) : parse_body(req);
    if (!body) return error_response(req, core::ErrorCode::bad_request, "body must be JSON");
    try {
      return json_response(req, http::status::ok, hub_.rotate_codes(bearer, *body));
    } catch (const HttpError& e) {
      return error_response(req, e.code, e.message);
    }
  }
  if (path == "/api/room/songs/import") {
    route = "songs";
    if (req.method() != http::verb::post)
      return error_response(req, core::ErrorCode::bad_request, "use POST with the song file as the body and ?name=<the file's name>");
    auto url = boost::urls::parse_origin_form(req.target());
    std::string name = url ? query_param(*url, "name") : std::string();
    if (name.empty()) name = "upload";
    try {
      return json_response(req, http::status::ok, hub_.import_songs(bearer_of(req), name, req.body()));
    } catch (const HttpError& e) {
      return error_response(req, e.code, e.message);
    }
  }
  if (constexpr std::string_view prefix = "/api/room/songs/"; path.starts_with(prefix) && path.size() > prefix.size()) {
    route = "song_body";
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return error_response(req, core::ErrorCode::bad_request, "use GET /api/room/songs/<song id> with your bearer token");
    std::string id = path.substr(prefix.size());
    try {
      SongBody body = hub_.song_body(bearer_of(req), id);
      // A client that holds this revision already gets 304 and no body (RFC 9110 If-None-Match).
      bool cached = false;
      std::string_view inm = req[http::field::if_none_match];
      while (!inm.empty() && !cached) {
        auto comma = inm.find(',');
        std::string_view tag = inm.substr(0, comma);
        inm = comma == std::string_view::npos ? std::string_view{} : inm.substr(comma + 1);
        while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
        while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        cached = tag == "*" || tag == body.etag;
      }
      hub_.metrics().inc("downbeat_song_bodies_total", cached ? "result=\"not_modified\"" : "result=\"ok\"");
      Response res{cached ? http::status::not_modified : http::status::ok, req.version()};
      res.set(http::field::server, "downbeatd");
      res.set(http::field::etag, body.etag);
      // Private to this member, and checked again each time (a song.update changes the tag).
      res.set(http::field::cache_control, "private, no-cache");
      res.set(http::field::vary, "Authorization");
      res.keep_alive(req.keep_alive());
      if (!cached) {
        res.set(http::field::content_type, "application/json");
        if (req.method() != http::verb::head) res.body() = std::move(body.json);
        res.prepare_payload();
      }
      return res;
    } catch (const HttpError& e) {
      return error_response(req, e.code, e.message);
    }
  }
  if (constexpr std::string_view prefix = "/api/room/setlists/", suffix = "/export.chordpro";
      path.starts_with(prefix) && path.ends_with(suffix) && path.size() > prefix.size() + suffix.size()) {
    route = "setlist_export";
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return error_response(req, core::ErrorCode::bad_request, "use GET");
    std::string id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    try {
      auto [title, bundle] = hub_.export_setlist(bearer_of(req), id);
      std::string file = bundle_file_name(title);
      Response res{http::status::ok, req.version()};
      res.set(http::field::server, "downbeatd");
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.set(http::field::cache_control, "no-store");
      res.set(http::field::content_disposition,
              "attachment; filename=\"" + file + "\"; filename*=UTF-8''" + boost::urls::encode((title.empty() ? std::string("setlist") : title) + ".chordpro", boost::urls::unreserved_chars));
      res.keep_alive(req.keep_alive());
      if (req.method() != http::verb::head) res.body() = std::move(bundle);
      res.prepare_payload();
      return res;
    } catch (const HttpError& e) {
      return error_response(req, e.code, e.message);
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
    return metrics_response(req, address);
  }
  if (req.method() == http::verb::get || req.method() == http::verb::head) {
    if (web_root_canonical_.empty() && !opts_.web_root.empty()) {  // built after the server started
      std::error_code ec;
      web_root_canonical_ = std::filesystem::canonical(opts_.web_root, ec).string();
    }
    return static_file(req, opts_.web_root, web_root_canonical_, path);
  }
  route = "unknown";
  return error_response(req, core::ErrorCode::not_found, "no such endpoint: " + path);
}

// Open on loopback; from anywhere else only with the --metrics-token bearer token.
Response HttpServer::metrics_response(const Request& req, const std::string& address) {
  auto& metrics = hub_.metrics();
  if (opts_.metrics_token.empty() && !is_loopback(address)) {
    metrics.inc("downbeat_auth_failures_total", "reason=\"metrics\"");
    return error_response(req, core::ErrorCode::forbidden,
                          "metrics are served to this machine only: scrape from localhost, or start downbeatd with --metrics-token FILE");
  }
  if (!opts_.metrics_token.empty()) {
    std::string_view auth = req[http::field::authorization];
    if (!auth.starts_with("Bearer ") || !same_secret(auth.substr(7), opts_.metrics_token)) {
      metrics.inc("downbeat_auth_failures_total", "reason=\"metrics\"");
      auto res = error_response(req, core::ErrorCode::unauthorized, "metrics need Authorization: Bearer <the --metrics-token value>");
      res.set(http::field::www_authenticate, "Bearer");
      return res;
    }
  }
  hub_.update_gauges();
  int http_open = 0, ws_open = 0;
  for (const auto& [k, n] : net_->http_per_address) http_open += n;
  for (const auto& [k, n] : net_->ws_per_address) ws_open += n;
  metrics.set_gauge("downbeat_http_connections", "", http_open);
  metrics.set_gauge("downbeat_ws_admitted", "", ws_open);
  metrics.set_gauge("downbeat_send_queue_bytes", "", static_cast<double>(net_->queued_bytes));
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = metrics.render();
  res.prepare_payload();
  return res;
}

template <class Stream>
asio::awaitable<void> HttpServer::http_loop(Stream stream, std::string address, AddressSlot slot) {
  beast::flat_buffer buf;
  boost::system::error_code ec;
  auto& metrics = hub_.metrics();
  bool first = true;
  for (;;) {
    http::request_parser<http::string_body> parser;
    // A song file may be bigger than any other body: its limit is the importer's, every other
    // body's 16 KiB (a Content-Length is checked with the header, chunks as they come).
    constexpr std::uint64_t kBodyLimit = 16 * 1024;
    parser.body_limit(importer::kMaxFileBytes);
    parser.header_limit(16 * 1024);
    // The first request must come as fast as a handshake; a kept-alive socket may idle a little longer.
    beast::get_lowest_layer(stream).expires_after(first ? opts_.handshake_timeout : opts_.idle_timeout);
    co_await http::async_read_header(stream, buf, parser, redirect_error(use_awaitable, ec));
    bool song_upload = (!ec || ec == http::error::body_limit) && is_song_import(parser.get().target());
    if (!ec && !song_upload) {
      if (auto length = parser.content_length(); length && *length > kBodyLimit) ec = http::error::body_limit;
      parser.body_limit(kBodyLimit);
    }
    if (!ec && !parser.is_done()) co_await http::async_read(stream, buf, parser, redirect_error(use_awaitable, ec));
    if (ec == http::error::body_limit) {
      Request dummy;
      std::string message = "request body is larger than 16 KiB";
      if (song_upload) {
        auto url = boost::urls::parse_origin_form(parser.get().target());
        std::string name = url ? query_param(*url, "name") : std::string();
        // A Content-Length over the limit stops the parser inside the header: content_length()
        // is only defined once the header is done, so read the field as it came.
        std::optional<std::uint64_t> length;
        if (parser.is_header_done()) {
          if (auto l = parser.content_length()) length = *l;
        } else {
          auto field = parser.get()[http::field::content_length];
          std::uint64_t n = 0;
          if (auto [p, e] = std::from_chars(field.data(), field.data() + field.size(), n); e == std::errc() && p == field.data() + field.size() && !field.empty())
            length = n;
        }
        message = "file " + (name.empty() ? std::string("(upload)") : name) +
                  (length ? " is " + std::to_string((*length + 1023) / 1024) + " KiB" : std::string(" is too big")) + "; the limit is " +
                  std::to_string(importer::kMaxFileBytes / 1024) + " KiB per file: is it a song? split a big collection into several files";
      }
      auto res = error_response(dummy, core::ErrorCode::too_large, message);
      res.keep_alive(false);
      co_await write_response(stream, std::move(res), song_upload ? "songs" : "too_large", {}, ec);
      break;
    }
    if (ec == beast::error::timeout) metrics.inc("downbeat_timeouts_total", first ? "phase=\"first_request\"" : "phase=\"idle\"");
    if (ec) break;
    first = false;
    Request& req = parser.get();
    auto url = boost::urls::parse_origin_form(req.target());
    std::string path = url ? std::string(url->path()) : std::string();
    std::string host(req[http::field::host]);

    if (!url) {
      if (!co_await write_response(stream, error_response(req, core::ErrorCode::bad_request, "malformed request target"), "invalid", host, ec)) break;
      continue;
    }

    if (path == "/ws") {
      std::optional<Response> refusal;
      Claims claims;
      std::optional<std::int64_t> since;
      AddressSlot admitted;
      // The token rides in the subprotocol list (browsers), or in ?token= (the SDK's older form).
      WsProtocols offered = parse_ws_protocols(req[http::field::sec_websocket_protocol]);
      if (!websocket::is_upgrade(req)) {
        refusal = error_response(req, core::ErrorCode::bad_request, "/ws needs a WebSocket upgrade");
      } else if (auto origin = req[http::field::origin]; !origin.empty() && !origins_.allows(origin)) {
        // Same origin, or one the operator allowed; tools without a browser send no Origin.
        metrics.inc("downbeat_auth_failures_total", "reason=\"origin\"");
        spdlog::warn("ws.origin_refused address={} origin={}", address, std::string(origin));
        refusal = error_response(req, core::ErrorCode::forbidden, "origin not allowed: open the app from this server, or start downbeatd with --allow-origin");
      } else {
        try {
          claims = hub_.authorize(offered.token.empty() ? query_param(*url, "token") : offered.token, address);
          if (auto s = query_param(*url, "since"); !s.empty()) {
            since = parse_since(s);
            if (!since) refusal = error_response(req, core::ErrorCode::bad_request, "since must be a non-negative integer (the last seq you saw)");
          }
          // Counted from here, before the asynchronous handshake: concurrent upgrades cannot overshoot.
          boost::system::error_code aec;
          auto key = address_key(asio::ip::make_address(address, aec));
          if (!refusal) admitted = AddressSlot::acquire(net_, &NetState::ws_per_address, key, opts_.max_ws_per_address);
          if (!refusal && !admitted) {
            metrics.inc("downbeat_rate_limited_total", "limit=\"conns_per_ip\"");
            refusal = error_response(req, core::ErrorCode::rate_limited,
                                     "too many connections from your address (" + std::to_string(opts_.max_ws_per_address) + "): close other tabs", 5);
          }
        } catch (const HttpError& e) {
          refusal = error_response(req, e.code, e.message, e.retry_after_s);
        } catch (const std::exception& e) {
          spdlog::error("ws.authorize_failed address={} error={}", address, e.what());
          refusal = internal_error(req);
        }
      }
      if (refusal) {
        refusal->keep_alive(false);
        co_await write_response(stream, std::move(*refusal), "ws", host, ec);
        break;
      }
      metrics.inc("downbeat_http_requests_total", "route=\"ws\",status=\"101\"");
      beast::get_lowest_layer(stream).expires_never();
      slot.reset();  // no longer an HTTP connection: it counts under the WebSocket cap now
      auto session = std::make_shared<WebSocketSession<Stream>>(std::move(stream), hub_, opts_.session, net_, std::move(admitted));
      session->address = address;
      // The session runs as a coroutine of its own, so this one ends here and frees its frame
      // (the request parser and this loop's read buffer) for as long as the socket stays open.
      // The function object owns `session` until run() has taken its own reference.
      asio::co_spawn(
          io_,
          [session, req = parser.release(), claims, since, v1 = offered.downbeat_v1]() mutable -> asio::awaitable<void> {
            co_await session->run(std::move(req), std::move(claims), since, v1);
          },
          log_exception("connection"));
      co_return;
    }

    const char* route = "static";
    Response res;
    try {
      res = handle_http(req, path, address, route);
    } catch (const std::exception& e) {
      // Storage failing under a handler (disk full, read-only): answer and log, never a silent close.
      spdlog::error("http.internal_error route={} address={} error={}", route, address, e.what());
      metrics.inc("downbeat_errors_total", "code=\"internal\"");
      res = internal_error(req);
    }
    bool keep = co_await write_response(stream, std::move(res), route, host, ec);
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
