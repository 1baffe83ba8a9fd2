// libdownbeat against the real downbeatd on loopback: what an app built on the SDK relies on.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "downbeat/downbeat.hpp"
#include "testing/downbeatd_process.hpp"

using namespace downbeat;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

class Sdk : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<downbeat::testing::DownbeatdProcess>(DOWNBEATD_PATH);
    codes_ = server_->create_room("Rehearsal");
    server_->start();
    url_ = *parse_server_url(server_->url());
  }

  Session join(const std::string& role, const std::string& name) {
    return exchange_code(url_, codes_.codes.at(role), name, "device-" + name + "-0001");
  }

  ClientConfig config(const Session& s) {
    ClientConfig cfg;
    cfg.server = url_;
    cfg.tokens = s.tokens;
    cfg.backoff_max = 1000ms;  // keep reconnect tests short; the default cap is 5 s
    return cfg;
  }

  std::unique_ptr<Client> connect(const std::string& role, const std::string& name) {
    auto c = std::make_unique<Client>(config(join(role, name)));
    c->start();
    EXPECT_TRUE(c->wait_ready(10s)) << "no hello+snapshot; server log: " << server_->log_path();
    return c;
  }

  std::unique_ptr<downbeat::testing::DownbeatdProcess> server_;
  downbeat::testing::RoomCodes codes_;
  ServerUrl url_;
};

// Collects events from a client's io thread for the test thread.
struct Recorder {
  std::mutex mu;
  std::vector<Event> events;
  void operator()(const Event& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  }
  std::vector<Event> of(const std::string& type) {
    std::lock_guard lock(mu);
    std::vector<Event> out;
    for (auto& e : events) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }
};

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

}  // namespace

TEST_F(Sdk, ConnectGivesHelloAndTheWholeRoom) {
  auto md = connect("md", "Ana");
  const auto state = md->state();
  EXPECT_TRUE(state.has_snapshot);
  EXPECT_EQ(state.room.at("name").as_string(), "Rehearsal");
  const auto me = md->me();
  ASSERT_TRUE(me.contains("id"));
  EXPECT_EQ(me.at("role").as_string(), "md");
  ASSERT_TRUE(state.participant(me.at("id").as_string()));
  EXPECT_TRUE(state.tempo.has_value());
  EXPECT_EQ(md->connection_state(), ConnectionState::connected);
}

TEST_F(Sdk, CommandsAreAnsweredWithAckOrTypedError) {
  auto md = connect("md", "Ana");
  auto musician = connect("musician", "Ben");

  auto ok = md->send("slot.create", {{"name", "Keys 1"}, {"instrument", "keys"}}).get();
  ASSERT_TRUE(ok.ok) << ok.code << ": " << ok.message;
  ASSERT_TRUE(ok.seq);
  ASSERT_TRUE(musician->wait_seq(*ok.seq, 5s));  // the event reaches everyone after the ack
  const auto slots = musician->state().slots;
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].at("name").as_string(), "Keys 1");

  auto forbidden = musician->send("song.create", {{"title", "Mine"}}).get();
  EXPECT_FALSE(forbidden.ok);
  EXPECT_EQ(forbidden.code, "forbidden");
  EXPECT_FALSE(forbidden.message.empty());

  auto bad = md->send("tempo.set", {{"bpm", 500}}).get();
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.code, "bad_request");

  auto unknown = md->send("no.such.command", {}).get();
  EXPECT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.code, "unsupported");
  EXPECT_TRUE(md->state().songs.empty());  // nothing changed
}

TEST_F(Sdk, ResumeWithSinceReplaysExactlyTheMissedEvents) {
  auto md = connect("md", "Ana");
  const auto viewer_session = join("viewer", "Stage");
  int64_t seen = 0;
  {
    Client viewer(config(viewer_session));
    viewer.start();
    ASSERT_TRUE(viewer.wait_ready(10s));
    seen = viewer.state().seq;
    viewer.stop();  // the drop
  }
  std::vector<int64_t> missed;
  for (const char* name : {"Keys", "Bass", "Drums"}) {
    auto r = md->send("slot.create", {{"name", name}}).get();
    ASSERT_TRUE(r.ok) << r.message;
    missed.push_back(*r.seq);
  }
  auto cfg = config(viewer_session);
  cfg.since = seen;
  Recorder rec;  // outlives the client that calls it
  Client viewer(cfg);
  viewer.subscribe(std::ref(rec));
  viewer.start();
  ASSERT_TRUE(viewer.wait_seq(missed.back(), 10s));
  auto hello = rec.of("hello");
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_TRUE(hello[0].data.at("resumed").as_bool());
  EXPECT_TRUE(rec.of("snapshot").empty());
  auto created = rec.of("slot.create");
  ASSERT_EQ(created.size(), 3u);
  for (std::size_t i = 0; i < created.size(); ++i) EXPECT_EQ(created[i].seq, missed[i]);
}

TEST_F(Sdk, SchedulerBeatsMatchTheAnchorMath) {
  auto md = connect("md", "Ana");
  auto musician = connect("musician", "Ben");
  ASSERT_TRUE(musician->wait_locked(5s));
  auto set = md->send("tempo.set", {{"bpm", 132}, {"meter", {{"beats", 3}, {"unit", 4}}}}).get();
  ASSERT_TRUE(set.ok) << set.message;
  auto start = md->send("tempo.start", {{"count_in_bars", 1}}).get();
  ASSERT_TRUE(start.ok) << start.message;
  ASSERT_TRUE(musician->wait_seq(*start.seq, 5s));
  const auto tempo = *musician->tempo();
  ASSERT_TRUE(tempo.running);
  EXPECT_EQ(tempo.bpm, 132);
  EXPECT_EQ(tempo.anchor_bar, -1);  // one count-in bar

  const int64_t from = musician->to_local(tempo.anchor_t);
  auto beats = musician->beats_between(from, from + 3'000'000);
  ASSERT_GE(beats.size(), 6u);
  // The SDK runs on this host's CLOCK_MONOTONIC, which is the room clock too: each beat's local
  // time must be its room time, to within what the clock sync itself claims.
  const double bound = musician->sync_status().uncertainty_horizon_us;
  ASSERT_LT(bound, 5'000);
  for (std::size_t k = 0; k < beats.size(); ++k) {
    // 132 bpm: beat k at floor(k · 60e9 / 132 000) µs after the anchor, by hand.
    EXPECT_EQ(beats[k].server_us, tempo.anchor_t + static_cast<int64_t>(k) * 60'000'000'000LL / 132'000) << "beat " << k;
    EXPECT_LE(std::abs(static_cast<double>(beats[k].local_us - beats[k].server_us)), bound + 1) << "beat " << k;
    EXPECT_EQ(beats[k].bar, -1 + static_cast<int64_t>(k / 3));
    EXPECT_EQ(beats[k].beat, static_cast<int>(k % 3));
    EXPECT_EQ(beats[k].count_in, k < 3);
  }
  // Both clients map the same server beat through their own clock estimate; on one host they agree closely.
  ASSERT_TRUE(md->wait_seq(*start.seq, 5s));
  const auto b = md->next_beat(md->to_local(tempo.anchor_t));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->server_us, tempo.anchor_t);
}

TEST_F(Sdk, ReconnectsAndResumesAfterAServerRestart) {
  Recorder rec;  // outlives the clients that call it
  auto md = connect("md", "Ana");
  auto musician = connect("musician", "Ben");
  musician->subscribe(std::ref(rec));
  auto r = md->send("slot.create", {{"name", "Keys"}}).get();
  ASSERT_TRUE(r.ok);
  ASSERT_TRUE(musician->wait_seq(*r.seq, 5s));
  // An app's status line reads the client from its own thread while the socket comes and goes.
  std::mutex seen_mu;
  std::vector<ConnectionState> seen;  // successive distinct states, as that thread saw them
  auto last_seen = [&] {
    std::lock_guard lock(seen_mu);
    return seen.empty() ? ConnectionState::idle : seen.back();
  };
  std::jthread watcher([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const auto s = musician->connection_state();
      if (last_seen() != s) {
        std::lock_guard lock(seen_mu);
        seen.push_back(s);
      }
      (void)musician->state();
      (void)musician->sync_status();
      (void)musician->tokens();
      std::this_thread::sleep_for(1ms);
    }
  });

  // The watcher has seen the connected client before the kill (a thread may start late on a busy machine).
  ASSERT_TRUE(eventually([&] { return last_seen() == ConnectionState::connected; }));
  const auto listen = "127.0.0.1:" + std::to_string(server_->port());
  server_->stop(true);  // kill -9
  ASSERT_TRUE(eventually([&] { return musician->connection_state() != ConnectionState::connected; }));
  auto offline = md->send("slot.create", {{"name", "Bass"}}).get();
  EXPECT_FALSE(offline.ok);
  EXPECT_EQ(offline.code, "disconnected");

  server_->start(listen);
  ASSERT_TRUE(musician->wait_ready(15s));
  ASSERT_TRUE(md->wait_ready(15s));
  auto after = md->send("slot.create", {{"name", "Drums"}}).get();
  ASSERT_TRUE(after.ok) << after.code << ": " << after.message;
  ASSERT_TRUE(musician->wait_seq(*after.seq, 5s));
  const auto slots = musician->state().slots;
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0].at("name").as_string(), "Keys");
  EXPECT_EQ(slots[1].at("name").as_string(), "Drums");
  EXPECT_EQ(rec.of("hello").size(), 1u);  // the reconnect's hello (subscribed after the first)
  EXPECT_TRUE(eventually([&] { return last_seen() == ConnectionState::connected; }));
  watcher.request_stop();
  watcher.join();
  std::string trail;
  for (auto s : seen) trail += std::string(to_string(s)) + " ";
  ASSERT_GE(seen.size(), 3u) << "states seen: " << trail;
  EXPECT_EQ(seen.front(), ConnectionState::connected);
  EXPECT_EQ(seen.back(), ConnectionState::connected);
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [](ConnectionState s) { return s == ConnectionState::backoff; }));
}

TEST_F(Sdk, ARejectedTokenIsRefreshedAndTheClientConnects) {
  auto session = join("musician", "Ben");
  auto cfg = config(session);
  cfg.tokens.token = "not.a.jwt";  // the server answers 401: the SDK must refresh and retry
  std::mutex mu;
  std::optional<Session> rotated;
  cfg.on_tokens = [&](const Session& s) {
    std::lock_guard lock(mu);
    rotated = s;
  };
  Client c(cfg);
  c.start();
  ASSERT_TRUE(c.wait_ready(10s));
  std::lock_guard lock(mu);
  ASSERT_TRUE(rotated);
  EXPECT_NE(rotated->tokens.refresh_token, session.tokens.refresh_token);  // rotated on use
  EXPECT_EQ(c.tokens().token, rotated->tokens.token);
}

TEST_F(Sdk, AWrongJoinCodeIsUnauthorized) {
  try {
    exchange_code(url_, "WRONGCODE", "Eve", "device-eve-0001");
    FAIL() << "exchange with a wrong code succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.http_status(), 401);
    EXPECT_EQ(e.code(), "unauthorized");
  }
}

TEST_F(Sdk, ResyncRequestBringsAFreshSnapshot) {
  Recorder rec;
  auto viewer = connect("viewer", "Stage");
  viewer->subscribe(std::ref(rec));
  auto r = viewer->send("resync.request", {}).get();
  EXPECT_TRUE(r.ok) << r.code << ": " << r.message;
  ASSERT_TRUE(eventually([&] { return !rec.of("snapshot").empty(); }));
  EXPECT_TRUE(viewer->state().has_snapshot);
}

TEST_F(Sdk, AKickedDeviceStopsReconnecting) {
  auto md = connect("md", "Ana");
  auto musician = connect("musician", "Ben");
  const auto id = std::string(musician->me().at("id").as_string());
  auto r = md->send("participant.kick", {{"participant", id}}).get();
  ASSERT_TRUE(r.ok) << r.code << ": " << r.message;
  // Closed by the server, refused on reconnect, refresh refused too: the client gives up instead of looping.
  EXPECT_TRUE(eventually([&] { return musician->connection_state() == ConnectionState::stopped; }, 15s));
}

TEST(SdkTls, PinnedFingerprintConnectsAndAWrongOneIsRefused) {
  downbeat::testing::DownbeatdProcess server(DOWNBEATD_PATH);
  const auto codes = server.create_room("Secure");
  server.set_tls("auto");
  server.start();
  auto url = *parse_server_url(server.url());
  ASSERT_TRUE(url.secure) << server.url();
  // The fingerprint downbeatd prints, as `openssl x509 -fingerprint -sha256` shows it.
  auto out = downbeat::testing::run_capture(
      {"openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", (server.data_dir() / "tls" / "cert.pem").string()});
  TlsOptions pinned;
  pinned.pin_sha256 = out.substr(out.find('=') + 1);
  ASSERT_FALSE(normalize_fingerprint(pinned.pin_sha256).empty()) << out;

  auto session = exchange_code(url, codes.codes.at("musician"), "Ben", "device-ben-0001", pinned);
  ClientConfig cfg;
  cfg.server = url;
  cfg.tokens = session.tokens;
  cfg.tls = pinned;
  Client client(cfg);
  client.start();
  EXPECT_TRUE(client.wait_ready(10s));
  client.stop();

  TlsOptions wrong;
  wrong.pin_sha256 = std::string(64, 'a');
  try {
    exchange_code(url, codes.codes.at("viewer"), "Eve", "device-eve-0001", wrong);
    FAIL() << "a wrong pin was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "tls");
  }
  TlsOptions system_ca;  // neither pin nor insecure: a self-signed certificate must not pass
  EXPECT_THROW(exchange_code(url, codes.codes.at("viewer"), "Eve", "device-eve-0001", system_ca), Error);
}
