#include "server/auth/jwt.hpp"

#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "server/auth/crypto.hpp"

namespace downbeat::server {
namespace json = boost::json;

std::string jwt_sign(const Claims& c, const JwtKey& key) {
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", key.kid}};
  json::object payload{{"iss", kJwtIssuer}, {"aud", kJwtAudience}, {"sub", c.sub}, {"room", c.room}, {"role", c.role},
                       {"iat", c.iat},      {"nbf", c.nbf ? c.nbf : c.iat},    {"exp", c.exp}, {"jti", c.jti}};
  if (!c.fam.empty()) payload["fam"] = c.fam;
  std::string signing_input = base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(payload));
  return signing_input + "." + base64url_encode(hmac_sha256(key.secret, signing_input));
}

JwtVerdict jwt_verify(std::string_view token, const JwtKey& key, std::int64_t now_s, std::int64_t leeway_s) {
  auto reject = [](std::string why) { return JwtVerdict{std::nullopt, std::move(why)}; };
  if (token.size() > 4096) return reject("token too long");
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return reject("token is not a JWT");
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return reject("token is not a JWT");

  auto header_raw = base64url_decode(token.substr(0, d1));
  auto payload_raw = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!header_raw || !payload_raw || !sig) return reject("token is not valid base64url");

  json::error_code ec;
  json::value header = json::parse(*header_raw, ec);
  if (ec || !header.is_object()) return reject("token header is not a JSON object");
  const auto* alg = header.as_object().if_contains("alg");
  // Pin the algorithm: the header cannot choose `none` or a public-key algorithm.
  if (!alg || !alg->is_string() || alg->get_string() != "HS256") return reject("token algorithm must be HS256");
  if (const auto* kid = header.as_object().if_contains("kid"); kid && (!kid->is_string() || kid->get_string() != key.kid))
    return reject("token was signed with an unknown key");

  std::string expected = hmac_sha256(key.secret, token.substr(0, d2));
  if (!constant_time_equal(expected, *sig)) return reject("token signature is invalid");

  json::value payload = json::parse(*payload_raw, ec);
  if (ec || !payload.is_object()) return reject("token payload is not a JSON object");
  const auto& p = payload.as_object();
  auto str = [&](std::string_view k) -> std::optional<std::string> {
    const auto* v = p.if_contains(k);
    if (!v || !v->is_string()) return std::nullopt;
    return std::string(v->get_string());
  };
  auto num = [&](std::string_view k) -> std::optional<std::int64_t> {
    const auto* v = p.if_contains(k);
    if (!v || !v->is_int64()) return std::nullopt;
    return v->get_int64();
  };
  if (str("iss") != std::string(kJwtIssuer)) return reject("token issuer is wrong");
  if (str("aud") != std::string(kJwtAudience)) return reject("token audience is wrong");
  auto exp = num("exp");
  if (!exp) return reject("token has no expiry");
  if (now_s > *exp + leeway_s) return reject("token expired: refresh it or join again");
  auto nbf = num("nbf");
  if (nbf && now_s + leeway_s < *nbf) return reject("token is not valid yet");
  Claims c;
  auto sub = str("sub"), room = str("room"), role = str("role");
  if (!sub || !room || !role) return reject("token lacks sub, room or role");
  c.sub = *sub;
  c.room = *room;
  c.role = *role;
  c.jti = str("jti").value_or("");
  c.fam = str("fam").value_or("");
  c.iat = num("iat").value_or(0);
  c.exp = *exp;
  c.nbf = nbf.value_or(0);
  return JwtVerdict{c, {}};
}

JwtKey load_or_create_jwt_key(const std::string& path) {
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    json::value v = json::parse(ss.str());
    auto secret = base64url_decode(v.at("secret").as_string());
    if (!secret || secret->size() < 32) throw std::runtime_error("JWT key file " + path + " is damaged: delete it to make a new one (everyone will rejoin)");
    return JwtKey{std::string(v.at("kid").as_string()), *secret};
  }
  JwtKey key{random_hex(4), random_bytes(32)};
  json::object o{{"kid", key.kid}, {"secret", base64url_encode(key.secret)}};
  {
    mode_t old = umask(077);
    std::ofstream out(path, std::ios::trunc);
    umask(old);
    if (!out) throw std::runtime_error("cannot write JWT key file " + path);
    out << json::serialize(o) << "\n";
  }
  chmod(path.c_str(), 0600);
  return key;
}

}  // namespace downbeat::server
