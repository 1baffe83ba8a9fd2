#pragma once
// The WebSocket subprotocols a client offers (`Sec-WebSocket-Protocol: downbeat.v1, token.<JWT>`):
// browsers cannot set headers on a WebSocket, but they can offer subprotocols, so the access token
// rides there instead of in the URL, where proxies, history and logs would keep it.
// A pure function over the header value, so it can be fuzzed.
#include <string>
#include <string_view>

namespace downbeat::server {

inline constexpr std::string_view kWsProtocol = "downbeat.v1";
inline constexpr std::string_view kWsTokenPrefix = "token.";

struct WsProtocols {
  bool downbeat_v1 = false;  // offered: the server must echo it (browsers fail the socket otherwise)
  std::string token;         // from `token.<JWT>`, empty when not offered
};

inline WsProtocols parse_ws_protocols(std::string_view header) {
  WsProtocols out;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item == kWsProtocol) out.downbeat_v1 = true;
    else if (item.starts_with(kWsTokenPrefix) && out.token.empty()) out.token = std::string(item.substr(kWsTokenPrefix.size()));
  }
  return out;
}

}  // namespace downbeat::server
