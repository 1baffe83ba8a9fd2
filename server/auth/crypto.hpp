#pragma once
// Thin wrappers over OpenSSL: randomness, SHA-256, HMAC-SHA256, base64url. No primitives of our own.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace downbeat::server {

std::string random_bytes(std::size_t n);
// Join codes and ids: unambiguous uppercase letters and digits (no 0/O, 1/I/L).
std::string random_code(std::size_t len);
std::string random_hex(std::size_t bytes);
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace downbeat::server
