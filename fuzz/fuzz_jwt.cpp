// libFuzzer target: untrusted bearer tokens through JWT verification (base64url, JSON, HMAC).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/auth/jwt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const downbeat::server::JwtKey key{"k1", std::string(32, 'k')};
  auto verdict = downbeat::server::jwt_verify(std::string_view(reinterpret_cast<const char*>(data), size), key, 1'800'000'000);
  // A forged token can never verify without the key.
  if (verdict.claims && size > 0 && data[0] == 0xFF) __builtin_trap();
  return 0;
}
