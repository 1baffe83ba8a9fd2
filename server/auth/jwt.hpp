#pragma once
// JWT HS256 (RFC 7519) signing and verification, hardened per RFC 8725: the algorithm is pinned,
// `alg:none` and every other algorithm are rejected, exp/nbf/iss/aud are checked, and the
// signature is compared in constant time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace downbeat::server {

struct JwtKey {
  std::string kid;
  std::string secret;  // raw 32 bytes
};

struct Claims {
  std::string sub;   // participant id
  std::string room;
  std::string role;
  std::string jti;
  std::string fam;  // refresh-token family: a replayed refresh token revokes every access token of its family
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  std::int64_t nbf = 0;
};

inline constexpr std::string_view kJwtIssuer = "downbeat";
inline constexpr std::string_view kJwtAudience = "downbeat";

std::string jwt_sign(const Claims& claims, const JwtKey& key);

struct JwtVerdict {
  std::optional<Claims> claims;
  std::string error;  // why it was rejected (never contains the token or the key)
};
// `now_s`: seconds since the Unix epoch. Allows `leeway_s` clock skew on exp/nbf.
JwtVerdict jwt_verify(std::string_view token, const JwtKey& key, std::int64_t now_s, std::int64_t leeway_s = 30);

// Loads the key from `path`, or creates a random 256-bit one there (mode 0600).
JwtKey load_or_create_jwt_key(const std::string& path);

}  // namespace downbeat::server
