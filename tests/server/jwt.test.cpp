// JWT verification per RFC 8725: every forgery a phone-side attacker could try is refused.
#include <gtest/gtest.h>

#include "server/auth/crypto.hpp"
#include "server/auth/jwt.hpp"

using namespace downbeat::server;

namespace {
const JwtKey kKey{"k1", std::string(32, 'x')};
Claims claims(std::int64_t now) { return Claims{"p1", "r1", "musician", "j1", "fam1", now, now + 900, now}; }
std::string forge(const std::string& header_json, const std::string& payload_json, const std::string& sig) {
  return base64url_encode(header_json) + "." + base64url_encode(payload_json) + "." + sig;
}
constexpr std::int64_t kNow = 1'800'000'000;
}  // namespace

TEST(Jwt, SignedTokenVerifies) {
  auto v = jwt_verify(jwt_sign(claims(kNow), kKey), kKey, kNow);
  ASSERT_TRUE(v.claims) << v.error;
  EXPECT_EQ(v.claims->sub, "p1");
  EXPECT_EQ(v.claims->room, "r1");
  EXPECT_EQ(v.claims->role, "musician");
  EXPECT_EQ(v.claims->fam, "fam1") << "the refresh family rides in the token, so a replay can revoke it";
}

TEST(Jwt, ExpiredTokenIsRejected) {
  auto token = jwt_sign(claims(kNow - 2000), kKey);
  auto v = jwt_verify(token, kKey, kNow);
  EXPECT_FALSE(v.claims);
  EXPECT_NE(v.error.find("expired"), std::string::npos);
}

TEST(Jwt, WrongKeyIsRejected) {
  JwtKey other{"k1", std::string(32, 'y')};
  EXPECT_FALSE(jwt_verify(jwt_sign(claims(kNow), other), kKey, kNow).claims);
}

TEST(Jwt, AlgNoneIsRejected) {
  std::string payload = R"({"iss":"downbeat","aud":"downbeat","sub":"p1","room":"r1","role":"md","exp":1900000000})";
  EXPECT_FALSE(jwt_verify(forge(R"({"alg":"none","typ":"JWT"})", payload, ""), kKey, kNow).claims);
  EXPECT_FALSE(jwt_verify(forge(R"({"alg":"none","typ":"JWT"})", payload, "") + "", kKey, kNow).claims);
}

TEST(Jwt, OtherAlgorithmIsRejectedEvenWithValidHmac) {
  std::string header = R"({"alg":"HS512","typ":"JWT","kid":"k1"})";
  std::string payload = R"({"iss":"downbeat","aud":"downbeat","sub":"p1","room":"r1","role":"md","exp":1900000000})";
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  EXPECT_FALSE(jwt_verify(input + "." + base64url_encode(hmac_sha256(kKey.secret, input)), kKey, kNow).claims);
}

TEST(Jwt, WrongAudienceOrIssuerIsRejected) {
  for (const char* payload : {R"({"iss":"downbeat","aud":"someone-else","sub":"p1","room":"r1","role":"md","exp":1900000000})",
                              R"({"iss":"evil","aud":"downbeat","sub":"p1","room":"r1","role":"md","exp":1900000000})"}) {
    std::string header = R"({"alg":"HS256","typ":"JWT","kid":"k1"})";
    std::string input = base64url_encode(header) + "." + base64url_encode(payload);
    auto v = jwt_verify(input + "." + base64url_encode(hmac_sha256(kKey.secret, input)), kKey, kNow);
    EXPECT_FALSE(v.claims) << payload;
  }
}

TEST(Jwt, TamperedPayloadIsRejected) {
  auto token = jwt_sign(claims(kNow), kKey);
  auto d1 = token.find('.'), d2 = token.rfind('.');
  std::string payload = R"({"iss":"downbeat","aud":"downbeat","sub":"p1","room":"r1","role":"md","exp":1900000000})";
  std::string forged = token.substr(0, d1 + 1) + base64url_encode(payload) + token.substr(d2);
  EXPECT_FALSE(jwt_verify(forged, kKey, kNow).claims);
}

TEST(Jwt, GarbageIsRejectedWithoutThrowing) {
  for (const char* t : {"", ".", "..", "a.b.c", "a.b", "a.b.c.d", "!!!.???.###", "eyJhbGciOiJIUzI1NiJ9..x"})
    EXPECT_FALSE(jwt_verify(t, kKey, kNow).claims) << t;
}

TEST(Jwt, NotYetValidIsRejected) {
  Claims c = claims(kNow + 3600);
  EXPECT_FALSE(jwt_verify(jwt_sign(c, kKey), kKey, kNow).claims);
}

TEST(Crypto, Base64UrlRoundTrips) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\xfe\x00\x01"})
    EXPECT_EQ(base64url_decode(base64url_encode(s)).value(), s);
  EXPECT_FALSE(base64url_decode("a"));
  EXPECT_FALSE(base64url_decode("ab+c"));
}

TEST(Crypto, JoinCodesUseTheUnambiguousAlphabet) {
  for (int i = 0; i < 50; ++i) {
    auto c = random_code(10);
    ASSERT_EQ(c.size(), 10u);
    EXPECT_EQ(c.find_first_of("01OIL"), std::string::npos) << c;
  }
}
