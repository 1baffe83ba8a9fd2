#pragma once
// Private networking helpers shared by the HTTP calls and the WebSocket connection (TLS setup, pinning, one POST).
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "downbeat/tls.hpp"
#include "downbeat/url.hpp"

namespace downbeat::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

asio::ssl::context make_tls_context(const TlsOptions& tls);

// SNI + (without a pin and not insecure) host name verification; call before the TLS handshake.
void prepare_tls_stream(SSL* ssl, asio::ssl::context& ctx, const ServerUrl& server, const TlsOptions& tls,
                        asio::ssl::verify_mode* mode_out);

// Lower-case hex SHA-256 of the peer certificate (DER), empty if none.
std::string peer_fingerprint(SSL* ssl);

// Throws Error("tls", …) when a pin is configured and the peer does not match it.
void check_pin(SSL* ssl, const TlsOptions& tls);

struct HttpReply {
  unsigned status = 0;
  std::string body;
  std::string retry_after;
};

// One blocking POST with a JSON body on a private io_context. Throws Error("network" / "tls", …).
HttpReply http_post_json(const ServerUrl& server, std::string_view target, std::string body, const TlsOptions& tls,
                         std::chrono::milliseconds timeout);

// Turns a non-2xx reply into an Error with the server's {error:{code,message}}.
[[noreturn]] void throw_http_error(const HttpReply& reply);

}  // namespace downbeat::detail
