#pragma once
// Server addresses as users type them: http(s)://HOST:PORT, ws(s)://…, or a join link https://HOST:PORT/j/CODE.
#include <optional>
#include <string>
#include <string_view>

namespace downbeat {

struct ServerUrl {
  bool secure = false;  // https / wss
  std::string host;     // without IPv6 brackets
  std::string port;     // always set (default 443 / 80)
  std::string http_base() const;  // "https://host:port"
  std::string host_header() const;  // "host:port" (brackets for IPv6)
};

std::optional<ServerUrl> parse_server_url(std::string_view text);

// A join target is either a link carrying the server and the code, or a bare code.
struct JoinTarget {
  std::optional<ServerUrl> server;
  std::string code;
};
std::optional<JoinTarget> parse_join_target(std::string_view link_or_code);

}  // namespace downbeat
