#pragma once
// Which browser origins may open a WebSocket: pages served by this server under a name or address
// it really answers to (its certificate's SANs, its listen and LAN addresses, localhost when on
// loopback) at its own scheme and port, plus --allow-origin. Never the request's own Host header:
// under DNS rebinding `Host: evil:PORT` and `Origin: http://evil:PORT` agree.
// Pure functions over strings, so they can be fuzzed.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

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
// `default_scheme`). nullopt for "null", paths, user info or a bad port.
inline std::optional<OriginParts> parse_origin(std::string_view s, std::string_view default_scheme = {}) {
  OriginParts out;
  if (auto sep = s.find("://"); sep != std::string_view::npos) {
    out.scheme = ascii_lower(s.substr(0, sep));
    s.remove_prefix(sep + 3);
  } else {
    out.scheme = std::string(default_scheme);
  }
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  if (s.empty() || s.size() > 255 || s.find_first_of("/?#@\\ \t") != std::string_view::npos) return std::nullopt;
  std::string_view host = s, port;
  if (s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = s.substr(0, close + 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  if (host.empty() || host == "[]") return std::nullopt;
  if (port.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    unsigned long p = std::stoul(std::string(port));
    if (p == 0 || p > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(p);
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
