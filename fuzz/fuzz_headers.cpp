// libFuzzer target: the request headers the server interprets itself — `Origin` and `Host`
// through the origin policy (server/net/origin_policy.hpp) and `Sec-WebSocket-Protocol`
// (server/net/ws_protocols.hpp). Invariants: a parsed origin has an http(s) scheme, a host and a
// port; the DNS-rebinding pair (a foreign Host and a matching Origin) is never allowed; a token
// taken from the subprotocols never contains the list's separators.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/net/origin_policy.hpp"
#include "server/net/ws_protocols.hpp"

using namespace downbeat::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static const OriginPolicy policy(true, 8443, {"downbeat.local", "192.168.1.20", "*.band.example", "::1"}, {"http://localhost:5173"});
  if (auto o = parse_origin(in)) {
    if ((o->scheme != "http" && o->scheme != "https") || o->host.empty() || o->port == 0) __builtin_trap();
    // A name this server does not serve is refused whatever port and scheme it claims.
    if (o->host.find("evil") != std::string::npos && o->host.find("band.example") == std::string::npos && policy.allows(in) &&
        in != "http://localhost:5173")
      __builtin_trap();
  }
  (void)parse_origin(in, "https");
  (void)policy.serves_host(in);
  auto p = parse_ws_protocols(in);
  if (p.token.find(',') != std::string::npos) __builtin_trap();
  return 0;
}
