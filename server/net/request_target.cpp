#include "server/net/request_target.hpp"

#include <algorithm>

namespace downbeat::server {

std::optional<std::int64_t> parse_since_value(std::string_view s) {
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoll(std::string(s));
}

std::string query_param(const boost::urls::url_view& u, std::string_view key) {
  auto params = u.params();
  auto it = params.find(key);
  if (it == params.end()) return {};
  return std::string((*it).value);
}

std::optional<StaticPath> static_path(std::string_view path) {
  // Reject anything that could climb out of the web root: `..`, backslashes, NUL, and an empty
  // segment — "//etc/x" would make `root / rel.substr(1)` the absolute path /etc/x.
  if (path.empty() || path.front() != '/' || path.find("..") != std::string_view::npos || path.find('\\') != std::string_view::npos ||
      path.find('\0') != std::string_view::npos || path.find("//") != std::string_view::npos)
    return std::nullopt;
  StaticPath out;
  out.rel = path == "/" ? "/index.html" : std::string(path);
  out.app_route = out.rel.rfind('.') == std::string::npos || out.rel.rfind('.') < out.rel.rfind('/');
  return out;
}

}  // namespace downbeat::server
