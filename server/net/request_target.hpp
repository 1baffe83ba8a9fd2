#pragma once
// Pure parsers of what a client puts in the HTTP request target (no I/O), so the server and the
// fuzz target (fuzz/fuzz_url.cpp) run the same code: the `since` value, query parameters and
// the mapping of a URL path to a file under the web root.
#include <boost/url/url_view.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace downbeat::server {

// `since=` of /ws: a non-negative decimal of at most 18 digits, else nullopt.
std::optional<std::int64_t> parse_since_value(std::string_view s);

// The decoded value of the first `key=` parameter, or "" when absent.
std::string query_param(const boost::urls::url_view& u, std::string_view key);

// A URL path mapped to the web root: `rel` is the file relative to it, `app_route` when the
// single-page app's index.html must be served instead. nullopt: the path could climb out.
struct StaticPath {
  std::string rel;
  bool app_route = false;
};
std::optional<StaticPath> static_path(std::string_view path);

}  // namespace downbeat::server
