#include "downbeat/url.hpp"

#include <gtest/gtest.h>

using namespace downbeat;

TEST(Url, JoinLinkGivesServerAndCode) {
  auto t = parse_join_target("https://10.0.0.5:8443/j/AbC123");
  ASSERT_TRUE(t && t->server);
  EXPECT_TRUE(t->server->secure);
  EXPECT_EQ(t->server->host, "10.0.0.5");
  EXPECT_EQ(t->server->port, "8443");
  EXPECT_EQ(t->code, "AbC123");
  EXPECT_EQ(t->server->http_base(), "https://10.0.0.5:8443");
}

TEST(Url, BareCodeNeedsAServerFromElsewhere) {
  auto t = parse_join_target("AbC123");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->server);
  EXPECT_EQ(t->code, "AbC123");
}

TEST(Url, SchemesAndDefaults) {
  EXPECT_EQ(parse_server_url("http://localhost")->port, "80");
  EXPECT_EQ(parse_server_url("wss://band.local/ws")->port, "443");
  EXPECT_TRUE(parse_server_url("wss://band.local")->secure);
  EXPECT_FALSE(parse_server_url("ws://127.0.0.1:9")->secure);
  auto v6 = parse_server_url("http://[::1]:8080/");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->host_header(), "[::1]:8080");
}

TEST(Url, RejectsWhatIsNotAServer) {
  EXPECT_FALSE(parse_server_url("ftp://x"));
  EXPECT_FALSE(parse_server_url("http://:80"));
  EXPECT_FALSE(parse_server_url("http://h:99999"));
  EXPECT_FALSE(parse_server_url("http://user@h"));
  EXPECT_FALSE(parse_join_target("https://h:1/nope"));
  EXPECT_FALSE(parse_join_target(""));
}

TEST(Url, JoinLinksAsPhonesAndPrintersMangleThem) {
  auto t = parse_join_target("HTTPS://Band.Local:8443/j/AbC123?utm=x#top");
  ASSERT_TRUE(t && t->server);
  EXPECT_TRUE(t->server->secure);
  EXPECT_EQ(t->server->port, "8443");
  EXPECT_EQ(t->code, "AbC123");
  auto enc = parse_join_target("http://10.0.0.5:8080/j/AbC%31");
  ASSERT_TRUE(enc);
  EXPECT_EQ(enc->code, "AbC1");  // percent-encoding is undone (a QR reader may escape)
  EXPECT_FALSE(parse_join_target("https://h:1/j/"));
  EXPECT_FALSE(parse_join_target("https://h:1/j"));
  EXPECT_FALSE(parse_server_url("http://h:"));
  EXPECT_FALSE(parse_server_url("http://h:8a"));
  EXPECT_FALSE(parse_server_url("http://[::1"));
  EXPECT_FALSE(parse_server_url("not a url"));
}
