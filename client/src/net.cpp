#include "net.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <cctype>
#include <cstdio>
#include <optional>

#include "downbeat/error.hpp"

namespace downbeat {

std::string normalize_fingerprint(const std::string& text) {
  std::string hex;
  for (char c : text) {
    if (c == ':' || std::isspace(static_cast<unsigned char>(c))) continue;  // pasted from a terminal
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return hex.size() == 64 ? hex : std::string{};
}

namespace detail {

asio::ssl::context make_tls_context(const TlsOptions& tls) {
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                  asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  if (tls.insecure || !tls.pin_sha256.empty()) {
    // A pinned self-signed certificate cannot chain to a CA: check_pin() decides after the handshake.
    ctx.set_verify_mode(asio::ssl::verify_none);
  } else {
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(asio::ssl::verify_peer);
  }
  return ctx;
}

void prepare_tls_stream(SSL* ssl, asio::ssl::context&, const ServerUrl& server, const TlsOptions& tls,
                        asio::ssl::verify_mode* mode_out) {
  SSL_set_tlsext_host_name(ssl, server.host.c_str());
  if (mode_out) *mode_out = (tls.insecure || !tls.pin_sha256.empty()) ? asio::ssl::verify_none : asio::ssl::verify_peer;
}

std::string peer_fingerprint(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  X509_free(cert);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

void check_pin(SSL* ssl, const TlsOptions& tls) {
  if (tls.pin_sha256.empty() || tls.insecure) return;
  const auto want = normalize_fingerprint(tls.pin_sha256);
  const auto got = peer_fingerprint(ssl);
  if (want.empty()) throw Error("tls", "the pinned fingerprint is not 64 hex digits: copy the SHA-256 fingerprint downbeatd printed");
  if (got != want) {
    throw Error("tls", "server certificate fingerprint " + got +
                           " does not match the pinned one: check you are on the right network, or re-join with the new fingerprint");
  }
}

namespace {

template <class Stream>
asio::awaitable<HttpReply> post_on(Stream& stream, const ServerUrl& server, std::string_view target, std::string body,
                                   std::chrono::milliseconds timeout) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, server.host_header());
  req.set(http::field::user_agent, "libdownbeat");
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  beast::get_lowest_layer(stream).expires_after(timeout);
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  co_await http::async_read(stream, buffer, res, asio::use_awaitable);
  HttpReply reply;
  reply.status = res.result_int();
  reply.body = std::move(res.body());
  if (auto it = res.find(http::field::retry_after); it != res.end()) reply.retry_after = std::string(it->value());
  co_return reply;
}

}  // namespace

HttpReply http_post_json(const ServerUrl& server, std::string_view target, std::string body, const TlsOptions& tls,
                         std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  std::optional<HttpReply> reply;
  std::exception_ptr failure;
  auto ssl_ctx = make_tls_context(tls);
  auto run = [&]() -> asio::awaitable<void> {
    asio::ip::tcp::resolver resolver{ioc};
    const auto endpoints = co_await resolver.async_resolve(server.host, server.port, asio::use_awaitable);
    if (server.secure) {
      beast::ssl_stream<beast::tcp_stream> stream{ioc, ssl_ctx};
      asio::ssl::verify_mode mode{};
      prepare_tls_stream(stream.native_handle(), ssl_ctx, server, tls, &mode);
      if (mode == asio::ssl::verify_peer) stream.set_verify_callback(asio::ssl::host_name_verification(server.host));
      beast::get_lowest_layer(stream).expires_after(timeout);
      co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
      co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
      check_pin(stream.native_handle(), tls);
      reply = co_await post_on(stream, server, target, std::move(body), timeout);
    } else {
      beast::tcp_stream stream{ioc};
      stream.expires_after(timeout);
      co_await stream.async_connect(endpoints, asio::use_awaitable);
      reply = co_await post_on(stream, server, target, std::move(body), timeout);
    }
  };
  asio::co_spawn(ioc, run(), [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const Error&) {
      throw;
    } catch (const boost::system::system_error& e) {
      const bool tls_failure = e.code().category() == asio::error::get_ssl_category() ||
                               e.code().category() == asio::ssl::error::get_stream_category();
      throw Error(tls_failure ? "tls" : "network",
                  "cannot reach " + server.http_base() + ": " + e.code().message() +
                      (tls_failure ? " (self-signed server? pass its fingerprint, or --insecure for tests)" : ""));
    }
  }
  return *reply;
}

void throw_http_error(const HttpReply& reply) {
  std::string code = "internal";
  std::string message = "HTTP " + std::to_string(reply.status);
  boost::system::error_code ec;
  auto parsed = boost::json::parse(reply.body, ec);
  if (!ec && parsed.is_object()) {
    if (auto* err = parsed.as_object().if_contains("error"); err && err->is_object()) {
      if (auto* c = err->as_object().if_contains("code"); c && c->is_string()) code = std::string(c->as_string());
      if (auto* m = err->as_object().if_contains("message"); m && m->is_string()) message = std::string(m->as_string());
    }
  }
  if (!reply.retry_after.empty()) message += " (retry after " + reply.retry_after + " s)";
  throw Error(code, message, static_cast<int>(reply.status));
}

}  // namespace detail
}  // namespace downbeat
