#pragma once
// Which browser origins may open a WebSocket: pages served by this server under a name or address
// it really answers to (its certificate's SANs, its listen and LAN addresses, localhost when on
// loopback) at its own scheme and port, plus --allow-origin. Never the request's own Host header:
// under DNS rebinding `Host: evil:PORT` and `Origin: http://evil:PORT` agree.
// Pure functions over strings, so they can be fuzzed.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>

namespace downbeat::server {

struct OriginParts {
  std::string scheme;  // lower case: http | https
  std::string host;    // lower case, IPv6 in brackets, no trailing dot
  std::uint16_t port = 0;
};

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

// A host as the policy compares it: lower case, IPv6 literals in brackets, no trailing dot.
inline std::string normalize_host(std::string_view h) {
  std::string out = ascii_lower(h);
  if (out.find(':') != std::string::npos && !out.starts_with('[')) out = "[" + out + "]";
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// "scheme://host[:port]" (a serialized origin, RFC 6454) or "host[:port]" (a Host header, with
// `default_scheme`). nullopt for "null", paths, queries, user info, a percent-escaped name or a
// bad port. Boost.URL parses; this decides what an origin may be.
inline std::optional<OriginParts> parse_origin(std::string_view s, std::string_view default_scheme = {}) {
  if (s.empty() || s.size() > 255) return std::nullopt;
  OriginParts out;
  boost::urls::authority_view au;
  if (s.find("://") != std::string_view::npos) {
    auto u = boost::urls::parse_absolute_uri(s);
    // An origin is scheme and authority only (Boost 1.81 also reads "http://h:8a" as port 8, path "a").
    if (!u || !u->has_authority() || !u->encoded_path().empty() || u->has_query()) return std::nullopt;
    out.scheme = ascii_lower(u->scheme());
    au = u->authority();
  } else {
    auto a = boost::urls::parse_authority(s);
    if (!a) return std::nullopt;
    au = *a;
    out.scheme = std::string(default_scheme);
  }
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  if (au.has_userinfo()) return std::nullopt;
  std::string host;
  switch (au.host_type()) {
    case boost::urls::host_type::ipv4: host = au.host_address(); break;
    case boost::urls::host_type::ipv6: host = "[" + std::string(au.host_address()) + "]"; break;
    case boost::urls::host_type::name:
      if (au.encoded_host().find('%') != boost::core::string_view::npos) return std::nullopt;
      host = au.encoded_host();
      break;
    default: return std::nullopt;
  }
  if (au.has_port()) {
    std::string_view port = au.port();
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || port.size() > 5 || ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535)
      return std::nullopt;
    out.port = static_cast<std::uint16_t>(p);
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  out.host = normalize_host(host);
  if (out.host.empty() || out.host == "[]") return std::nullopt;  // "https://." is no host (found by fuzz_headers)
  return out;
}

class OriginPolicy {
 public:
  OriginPolicy() = default;
  OriginPolicy(bool tls, std::uint16_t port, const std::vector<std::string>& hosts, const std::vector<std::string>& allow_origins)
      : scheme_(tls ? "https" : "http"), port_(port) {
    for (const auto& h : hosts) {
      if (h.empty()) continue;
      std::string n = normalize_host(h);
      if (n.starts_with("*.")) wildcards_.insert(n.substr(1));  // a certificate's *.example.com: one label
      else hosts_.insert(std::move(n));
    }
    for (const auto& o : allow_origins) {
      std::string v = ascii_lower(o);
      while (!v.empty() && v.back() == '/') v.pop_back();
      allowed_.insert(v);
    }
  }

  bool allows(std::string_view origin) const {
    std::string v = ascii_lower(origin);
    if (allowed_.contains(v)) return true;
    auto o = parse_origin(origin);
    return o && o->scheme == scheme_ && o->port == port_ && serves_name(o->host);
  }

  // Whether a Host header names this server (then the page's own ws(s):// origin may be named).
  bool serves_host(std::string_view host_header) const {
    auto h = parse_origin(host_header, scheme_);
    return h && h->port == port_ && serves_name(h->host);
  }

  const std::set<std::string>& hosts() const { return hosts_; }

 private:
  bool serves_name(const std::string& host) const {
    if (hosts_.contains(host)) return true;
    auto dot = host.find('.');
    return dot != std::string::npos && dot > 0 && wildcards_.contains(host.substr(dot));
  }

  std::string scheme_ = "https";
  std::uint16_t port_ = 0;
  std::set<std::string> hosts_;
  std::set<std::string> wildcards_;  // ".example.com" for *.example.com
  std::set<std::string> allowed_;
};

}  // namespace downbeat::server
