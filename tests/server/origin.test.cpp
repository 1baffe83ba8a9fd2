// Which browser origins may open the WebSocket (the DNS-rebinding defence, docs/security.md).
#include "server/net/origin_policy.hpp"

#include <gtest/gtest.h>

using downbeat::server::OriginPolicy;
using downbeat::server::parse_origin;

TEST(Origin, ParsesSerializedOriginsAndHostHeaders) {
  auto o = parse_origin("HTTPS://Band.Local:8443");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->host, "band.local");
  EXPECT_EQ(o->port, 8443);
  EXPECT_EQ(parse_origin("http://10.0.0.5")->port, 80);
  EXPECT_EQ(parse_origin("https://10.0.0.5")->port, 443);
  EXPECT_EQ(parse_origin("http://[::1]:8080")->host, "[::1]");
  EXPECT_EQ(parse_origin("band.local.:8443", "https")->host, "band.local");  // trailing dot
  EXPECT_EQ(parse_origin("[fe80::1]", "http")->port, 80);
}

TEST(Origin, RefusesWhatIsNotAnOrigin) {
  for (const char* bad : {"null", "", "band.local:8443", "ftp://h", "http://h/path", "http://h?q", "http://u@h", "http://h:",
                          "http://h:0", "http://h:65536", "http://h:8a", "http://[::1", "https://.", "http://ev%69l.com"})
    EXPECT_FALSE(parse_origin(bad)) << bad;
  for (const char* bad : {"", "u@h", "h:", "h:0", "h:8a", "[::1", ".", "h/x", "h:1 2", "ev%69l"})
    EXPECT_FALSE(parse_origin(bad, "http")) << "Host: " << bad;
}

TEST(Origin, AllowsOnlyNamesTheServerServes) {
  OriginPolicy policy(true, 8443, {"band.local", "10.0.0.5", "*.church.example", "::1"}, {"http://localhost:5173"});
  EXPECT_TRUE(policy.allows("https://band.local:8443"));
  EXPECT_TRUE(policy.allows("https://BAND.local:8443"));
  EXPECT_TRUE(policy.allows("https://10.0.0.5:8443"));
  EXPECT_TRUE(policy.allows("https://[::1]:8443"));
  EXPECT_TRUE(policy.allows("https://stage.church.example:8443"));
  EXPECT_TRUE(policy.allows("http://localhost:5173"));  // --allow-origin
  EXPECT_FALSE(policy.allows("https://a.b.church.example:8443"));  // a wildcard covers one label
  EXPECT_FALSE(policy.allows("http://band.local:8443"));  // wrong scheme
  EXPECT_FALSE(policy.allows("https://band.local:9443"));  // wrong port
  EXPECT_FALSE(policy.allows("https://evil:8443"));  // DNS rebinding: a name the server does not serve
  EXPECT_TRUE(policy.serves_host("band.local:8443"));
  EXPECT_FALSE(policy.serves_host("evil:8443"));
}
