// The SDK's side of clock sync, on a fake local clock: pings, pongs, losses and the figures it reports.
#include "room_clock.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace downbeat;
namespace json = boost::json;

namespace {

struct Fixture {
  Fixture() {
    cfg.clock = [this] { return now; };
    ioc.run();  // no work: returns stopped, and a stopped io_context lets this thread stand in for its io thread
  }
  int64_t now = 1'000'000;
  boost::asio::io_context ioc;
  ClientConfig cfg;
  detail::RoomClock clock{ioc, cfg};

  // A ping written now and its t0, as the server saw it.
  int64_t ping() {
    auto frame = json::parse(clock.ping_frame("p1")).as_object();
    return frame.at("data").as_object().at("t0").as_int64();
  }
  static json::object pong(int64_t t0, int64_t server) { return {{"t0", t0}, {"t1", server}, {"t2", server}}; }
};

}  // namespace

TEST(RoomClock, APongForAPingWeSentIsASampleAndAStrangerIsIgnored) {
  Fixture f;
  f.clock.on_link_open();
  const int64_t t0 = f.ping();
  f.now += 2'000;
  EXPECT_FALSE(f.clock.on_pong(Fixture::pong(t0 + 1, 5'000'000), f.now));  // not a t0 we sent
  EXPECT_TRUE(f.clock.on_pong(Fixture::pong(t0, 5'000'000), f.now));
  EXPECT_FALSE(f.clock.on_pong(Fixture::pong(t0, 5'000'000), f.now));  // counted once
  EXPECT_EQ(f.clock.status().samples, 1);
  // Server 5 s at the midpoint of a 2 ms round trip: offset = 5 s − (t0 + 1 ms).
  EXPECT_NEAR(static_cast<double>(f.clock.to_server(t0 + 1'000)), 5'000'000, 1'000);  // within the round trip's bound
}

TEST(RoomClock, APingUnansweredFor2SecondsIsLostAndItsLatePongNoLongerCounts) {
  Fixture f;
  f.clock.on_link_open();
  const int64_t t0 = f.ping();
  f.now += 2'000'001;
  f.clock.expire_lost_pings(f.now);
  EXPECT_EQ(f.clock.status().lost_pings, 1);
  EXPECT_FALSE(f.clock.on_pong(Fixture::pong(t0, 5'000'000), f.now));
  EXPECT_EQ(f.clock.status().samples, 0);
  EXPECT_DOUBLE_EQ(f.clock.metrics(f.now).at("loss").as_double(), 1.0);
}

TEST(RoomClock, ANewLinkStartsWithABurstThenTheSteadyRate) {
  Fixture f;
  f.clock.on_link_open();
  const int64_t start = f.now;
  int due = 0;
  // Over the burst's span (8 pings 25 ms apart) every ping is due on time, and no more.
  for (; f.now <= start + 7 * 25'000; f.now += 1'000) due += f.clock.take_ping_due(f.now) ? 1 : 0;
  EXPECT_EQ(due, f.cfg.ping_burst);
  // Nothing answered yet: the estimator keeps asking at the burst rate (never slower than ping_interval).
  EXPECT_EQ(f.clock.next_ping_at(), start + 8 * 25'000);
}

TEST(RoomClock, ReportsTheNewestRoundTripAsTheSchemaDefinesRttMs) {
  // protocol/schema.json: metrics.report rtt_ms is the newest ping round trip (the web app sends the
  // same), not the window's minimum: a link that just got slower must show it.
  Fixture f;
  f.clock.on_link_open();
  int64_t t0 = f.ping();
  f.now += 2'000;  // a 2 ms round trip
  ASSERT_TRUE(f.clock.on_pong(Fixture::pong(t0, 5'000'000), f.now));
  f.now += 100'000;
  t0 = f.ping();
  f.now += 9'000;  // then a 9 ms one
  ASSERT_TRUE(f.clock.on_pong(Fixture::pong(t0, 5'105'000), f.now));
  const auto m = f.clock.metrics(f.now);
  EXPECT_DOUBLE_EQ(m.at("rtt_ms").as_double(), 9.0);
  EXPECT_GT(m.at("jitter_ms").as_double(), 0.0);
}
