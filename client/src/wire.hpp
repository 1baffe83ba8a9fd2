#pragma once
// Small readers for the server's JSON frames, shared by the client's pieces.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/json.hpp>

namespace downbeat::detail {

/** The integer at `key` (signed or unsigned in the JSON), or nothing when absent or not an integer. */
inline std::optional<std::int64_t> int_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return std::nullopt;
}

inline std::int64_t micros(std::chrono::milliseconds d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }

}  // namespace downbeat::detail
