// libFuzzer target: an untrusted HTTP request target (`/ws?token=…&since=…`, a static file path)
// through exactly what the server does with it: Boost.URL's origin-form parser, the query
// parameters, the `since` value and the web-root mapping (server/net/request_target.hpp).
// Invariants: `since` is never negative; an accepted static path never leaves the web root.
#include <boost/url/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "server/net/request_target.hpp"

using namespace downbeat::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return 0;
  std::string path(url->path());
  std::string token = query_param(*url, "token");
  std::string since_raw = query_param(*url, "since");
  if (!since_raw.empty())
    if (auto since = parse_since_value(since_raw); since && *since < 0) __builtin_trap();
  if (auto sp = static_path(path)) {
    namespace fs = std::filesystem;
    const fs::path root("/srv/web");
    fs::path file = sp->app_route ? root / "index.html" : root / sp->rel.substr(1);
    // Lexically, before any symlink: the file must be the root's own child, never outside it.
    std::string normal = file.lexically_normal().string();
    if (!normal.starts_with("/srv/web/")) __builtin_trap();
  }
  return 0;
}
