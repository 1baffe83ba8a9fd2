#include "downbeat/auth.hpp"
#include "downbeat/tls.hpp"

#include <gtest/gtest.h>

using namespace downbeat;

TEST(Jwt, ReadsExpiryWithoutVerifying) {
  // {"alg":"HS256"} . {"sub":"p1","exp":1732537200} . sig
  EXPECT_EQ(jwt_expiry("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwMSIsImV4cCI6MTczMjUzNzIwMH0.c2ln"), 1732537200);
}

TEST(Jwt, GarbageHasNoExpiry) {
  EXPECT_FALSE(jwt_expiry("not-a-jwt"));
  EXPECT_FALSE(jwt_expiry("a.%%%.c"));
  EXPECT_FALSE(jwt_expiry("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwMSJ9.c2ln"));  // no exp claim
}

TEST(Tls, FingerprintsCompareWithoutColonsOrCase) {
  const std::string colons =
      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
  EXPECT_EQ(normalize_fingerprint(colons), "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(normalize_fingerprint("abcd"), "");
  EXPECT_EQ(normalize_fingerprint(colons + "zz"), "");
}
