#include "downbeat/url.hpp"

#include <algorithm>
#include <cctype>

namespace downbeat {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::string ServerUrl::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::string ServerUrl::http_base() const { return std::string(secure ? "https://" : "http://") + host_header(); }

std::optional<ServerUrl> parse_server_url(std::string_view text) {
  ServerUrl url;
  std::string_view rest;
  if (starts_with_ci(text, "https://")) {
    url.secure = true, rest = text.substr(8);
  } else if (starts_with_ci(text, "wss://")) {
    url.secure = true, rest = text.substr(6);
  } else if (starts_with_ci(text, "http://")) {
    rest = text.substr(7);
  } else if (starts_with_ci(text, "ws://")) {
    rest = text.substr(5);
  } else {
    return std::nullopt;
  }
  const auto path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no credentials in URLs
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  if (!port.empty() && (!all_digits(port) || port.size() > 5 || std::stoi(std::string(port)) > 65535)) return std::nullopt;
  url.host = std::string(host);
  url.port = port.empty() ? (url.secure ? "443" : "80") : std::string(port);
  return url;
}

std::optional<JoinTarget> parse_join_target(std::string_view link_or_code) {
  JoinTarget target;
  if (link_or_code.find("://") == std::string_view::npos) {
    target.code = std::string(link_or_code);
  } else {
    target.server = parse_server_url(link_or_code);
    if (!target.server) return std::nullopt;
    // The code is the path segment after /j/ (the link the server prints and draws as a QR code).
    const auto at = link_or_code.find("/j/");
    if (at == std::string_view::npos) return std::nullopt;
    auto code = link_or_code.substr(at + 3);
    code = code.substr(0, code.find_first_of("/?#"));
    target.code = std::string(code);
  }
  if (target.code.empty() || target.code.size() > 128) return std::nullopt;
  return target;
}

}  // namespace downbeat
