#include "downbeat/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace downbeat {
namespace {

// Boost.URL parses; this only decides what a Downbeat server address may be.
bool valid_port(std::string_view port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc{} && end == port.data() + port.size() && port.size() <= 5 && value <= 65535;
}

}  // namespace

std::string ServerUrl::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::string ServerUrl::http_base() const { return std::string(secure ? "https://" : "http://") + host_header(); }

namespace {

std::optional<ServerUrl> from_view(const boost::urls::url_view& u) {
  ServerUrl url;
  switch (u.scheme_id()) {
    case boost::urls::scheme::https:
    case boost::urls::scheme::wss: url.secure = true; break;
    case boost::urls::scheme::http:
    case boost::urls::scheme::ws: break;
    default: return std::nullopt;
  }
  if (!u.has_authority() || u.has_userinfo()) return std::nullopt;  // no credentials in URLs
  // Boost 1.81 reads "http://h:8a" as port 8 and path "a"; after an authority a path starts with '/'.
  if (!u.encoded_path().empty() && !u.encoded_path().starts_with('/')) return std::nullopt;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6: url.host = u.host_address(); break;
    case boost::urls::host_type::name: url.host = u.host(); break;
    default: return std::nullopt;
  }
  if (url.host.empty()) return std::nullopt;
  if (u.has_port()) {
    if (u.port().empty()) return std::nullopt;
    if (!valid_port(u.port())) return std::nullopt;
    url.port = std::string(u.port());
  } else {
    url.port = url.secure ? "443" : "80";
  }
  return url;
}

}  // namespace

std::optional<ServerUrl> parse_server_url(std::string_view text) {
  auto u = boost::urls::parse_uri_reference(text);
  if (!u || !u->has_scheme()) return std::nullopt;
  return from_view(*u);
}

std::optional<JoinTarget> parse_join_target(std::string_view link_or_code) {
  JoinTarget target;
  if (link_or_code.find("://") == std::string_view::npos) {
    target.code = std::string(link_or_code);
  } else {
    auto u = boost::urls::parse_uri_reference(link_or_code);
    if (!u || !u->has_scheme()) return std::nullopt;
    target.server = from_view(*u);
    if (!target.server) return std::nullopt;
    // The code is the path segment after /j/ (the link the server prints and draws as a QR code).
    auto segs = u->segments();
    for (auto it = segs.begin(); it != segs.end(); ++it) {
      if (*it != "j") continue;
      if (++it != segs.end()) target.code = *it;
      break;
    }
  }
  if (target.code.empty() || target.code.size() > 128) return std::nullopt;
  return target;
}

}  // namespace downbeat
