// bench/drift: how far apart do N devices play the same beat?
//
// Starts a real downbeatd, connects N libdownbeat clients, each with its own simulated clock (offset,
// skew) and its own impaired network path (userspace proxy), drives the tempo from an MD client, and
// records for every beat the TRUE (real-clock) instant each client would sound it: the local time the
// SDK's scheduler commits (a lookahead before the beat, as an audio renderer does) converted back
// through that client's simulated clock. Reports the inter-client spread, lock time, and whether every
// tempo change landed on the same bar everywhere.
//
// Browser mode (--browsers N, loopback only): N musician pages of the real web app in one headless
// Chromium (bench/drift/pages.mjs), each behind its own impaired path like an SDK client, record
// for every beat the instant they asked Web Audio to play it (AudioContext time mapped through
// getOutputTimestamp() to the machine clock). Pages run on the machine's own clock (no simulated
// offset or skew: a browser's clock cannot be faked from outside), so their error against the room
// clock is real and their spread against the SDK clients' true instants is on one time base.
//
//   drift loopback --downbeatd PATH [--clients 20] [--duration 30] [--browsers 10 --web-root web/dist] …
//   drift netns    --downbeatd PATH …   server and clients in two network namespaces over a veth pair
//   drift proxy    --listen A:P --to A:P --delay-ms 5 --jitter-ms 5 --loss 0.01   (used by netns mode)
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "downbeat/downbeat.hpp"
#include "impaired_proxy.hpp"
#include "sim_clock.hpp"
#include "testing/downbeatd_process.hpp"

extern char** environ;

namespace json = boost::json;
namespace asio = boost::asio;
using namespace downbeat;
using namespace downbeat::bench;
using namespace std::chrono_literals;

namespace {

constexpr int kSkip = 77;  // ctest SKIP_RETURN_CODE

struct Options {
  std::string downbeatd;
  int clients = 20;
  double duration_s = 30;
  double change_every_s = 4;
  double lookahead_ms = 50;
  double warmup_s = 0;  // connected and syncing this long before the first click (a band connects before the count-in)
  double max_offset_s = 10;
  double max_skew_ppm = 200;
  uint64_t seed = 1;
  double max_p99_ms = 0;  // > 0: exit 1 when the spread p99 exceeds it
  std::string json_out;
  std::string label;
  int ping_interval_ms = 250;  // the SDK default
  int sync_window = 128;       // the SDK default
  std::string profile = "lan";  // loopback path model: lan | clean | netem (the netns model, per path)
  // browser mode
  int browsers = 0;
  std::string web_root, pages_script, node = "node", chromium = "/usr/bin/chromium";
  // netns profile
  double delay_ms = 5, jitter_ms = 5, loss = 0.01, rto_ms = 200;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) ;
  return v[std::min(v.size() - 1, idx == 0 ? 0 : idx - 1)];
}

struct Record {
  int64_t server_us;
  int64_t bar;
  int beat;
  int64_t rev;
  double real_us;  // true instant the client sounds it
  double bound_us;  // the client's own error bound when it committed the beat (uncertainty until its next ping)
};

// One browser page's beats, as pages.mjs reports them.
struct PageRecord {
  int64_t server_us, bar;
  int beat;
  double real_us;  // CLOCK_MONOTONIC instant the page asked Web Audio to play it
};
struct Page {
  double lock_s = NAN, lock_1ms_s = NAN, min_rtt_us = NAN, join_s = NAN;  // s from "Live" (hello); join_s: Join tap → Live
  double map_width_ms = NAN, map_moved_ms = NAN;  // how well pages.mjs put the page's clock on CLOCK_MONOTONIC
  std::vector<PageRecord> beats;
};

struct SimClient {
  SimClock clock;
  std::unique_ptr<Client> client;
  std::vector<Record> records;
  int64_t cursor = INT64_MIN;  // room time from which the next beat is looked up
  int64_t late = 0;            // beats learned too late to schedule (after their lookahead point)
};

struct Change {
  std::string what;
  int64_t rev;
  core::TempoState state;
};

// Where each measured client connects (its own proxy port in loopback mode, the one netns proxy otherwise).
using PathFor = std::function<ServerUrl(int index)>;
// The base URL of browser page i (its own impaired path to the server's HTTP and WebSocket).
using PageUrlFor = std::function<std::string(int index)>;

struct Results {
  std::string mode;
  int clients = 0;
  int64_t beats = 0, groups = 0, complete_groups = 0, late = 0, resyncs = 0;
  double p50 = NAN, p99 = NAN, max = NAN;          // inter-client spread, ms
  double abs_p99 = NAN, abs_max = NAN;             // |client − room clock|, ms (same host: the room clock is CLOCK_MONOTONIC)
  double bound_p50 = NAN, bound_p99 = NAN;          // the clients' own error bounds, ms
  int64_t outside_bound = 0;                        // beats whose error exceeded the client's bound
  double lock_p50 = NAN, lock_p99 = NAN, lock_max = NAN;  // s, connect → uncertainty ≤ 1 ms
  int unlocked = 0;                                       // never reached 1 ms (RTT/2 > 1 ms makes it impossible)
  double sync_lock_p50 = NAN, sync_lock_max = NAN;        // s, connect → ClockSync::locked()
  double rtt_p50 = NAN, rtt_max = NAN;                    // ms, min RTT per client
  int changes = 0, changes_same_bar = 0;
  std::vector<std::string> change_failures;
  // browser mode
  int browsers = 0;
  double sdk_p99 = NAN, page_p50 = NAN, page_p99 = NAN, page_max = NAN;  // spread among SDK clients only / pages only, ms
  double page_abs_p99 = NAN, page_abs_max = NAN;                          // |page − room clock|, ms
  double page_lock_p50 = NAN, page_lock_max = NAN, page_lock_1ms_p50 = NAN, page_rtt_p50 = NAN;
  double page_map_width_max = NAN, page_map_moved_max = NAN;  // ms
  double page_join_p50 = NAN;                                  // s, Join tap → connected
  int page_unlocked_1ms = 0;
};

// ---- browser pages (pages.mjs) ------------------------------------------------------------------

pid_t spawn(const std::vector<std::string>& argv);

class Browsers {
 public:
  // Starts Chromium with one page per URL and waits until every page has joined, locked and
  // turned its click on.
  Browsers(const Options& o, const std::vector<std::string>& urls, const std::string& code) {
    dir_ = std::filesystem::temp_directory_path() / ("drift-pages-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    json::array list;
    for (const auto& u : urls) list.emplace_back(u);
    const json::object cfg{{"chromium", o.chromium}, {"urls", list}, {"code", code}, {"ready", (dir_ / "ready").string()},
                           {"stop", (dir_ / "stop").string()}, {"out", (dir_ / "out.json").string()}};
    std::ofstream(dir_ / "config.json") << json::serialize(cfg);
    pid_ = spawn({o.node, o.pages_script, (dir_ / "config.json").string()});
    try {
      wait_ready(urls.size());
    } catch (...) {
      cleanup();  // no destructor runs for a constructor that throws
      throw;
    }
  }
  ~Browsers() { cleanup(); }
  Browsers(const Browsers&) = delete;
  Browsers& operator=(const Browsers&) = delete;

 private:
  void wait_ready(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60 + 10 * static_cast<int>(n));
    while (!std::filesystem::exists(dir_ / "ready")) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("the browser pages failed to start (pages.mjs exited; see its output above)");
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the browser pages did not get ready in time");
      std::this_thread::sleep_for(50ms);
    }
  }
  void cleanup() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 public:
  // Stops the pages and reads what they recorded.
  std::vector<Page> finish() {
    std::ofstream(dir_ / "stop") << "stop\n";
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("the browser pages failed (pages.mjs)");
    std::ifstream in(dir_ / "out.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const json::value v = json::parse(ss.str());
    std::vector<Page> pages;
    auto num = [](const json::value& x) { return x.is_number() ? x.to_number<double>() : NAN; };
    for (const auto& pv : v.at("pages").as_array()) {
      Page p;
      p.lock_s = num(pv.at("lock_s"));
      p.lock_1ms_s = num(pv.at("lock_1ms_s"));
      p.join_s = num(pv.at("join_s"));
      p.min_rtt_us = num(pv.at("min_rtt_us"));
      p.map_width_ms = num(pv.at("map_width_ms"));
      p.map_moved_ms = num(pv.at("map_moved_ms"));
      for (const auto& b : pv.at("beats").as_array()) {
        const auto& a = b.as_array();
        if (!a[3].is_number()) continue;  // the page's clock could not be read (a starved renderer): not measured
        p.beats.push_back(PageRecord{a[0].to_number<int64_t>(), a[1].to_number<int64_t>(), a[2].to_number<int>(),
                                     a[3].to_number<double>()});
      }
      pages.push_back(std::move(p));
    }
    return pages;
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

// ---- the measurement --------------------------------------------------------------------------

Results measure(const Options& o, const std::string& mode, const ServerUrl& md_url, const PathFor& path_for,
                const testing::RoomCodes& codes, const PageUrlFor& page_url_for) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);

  // The MD drives the tempo over a clean path with the real clock; it is not measured.
  auto md_session = exchange_code(md_url, codes.codes.at("md"), "MD", "bench-md-000001");
  ClientConfig md_cfg;
  md_cfg.server = md_url;
  md_cfg.tokens = md_session.tokens;
  Client md(md_cfg);
  md.start();
  if (!md.wait_ready(20s)) throw std::runtime_error("the MD client could not connect");

  std::vector<std::unique_ptr<SimClient>> sims;
  const int64_t real0 = steady_now_us();
  for (int i = 0; i < o.clients; ++i) {
    auto sim = std::make_unique<SimClient>();
    sim->clock.real0 = real0;
    sim->clock.offset_us = static_cast<int64_t>(u(rng) * o.max_offset_s * 1e6);
    sim->clock.skew = u(rng) * o.max_skew_ppm * 1e-6;
    const auto url = path_for(i);
    auto session = exchange_code(url, codes.codes.at("musician"), "Sim " + std::to_string(i), "bench-sim-" + std::to_string(100000 + i));
    ClientConfig cfg;
    cfg.server = url;
    cfg.tokens = session.tokens;
    const SimClock* clock = &sim->clock;
    cfg.clock = [clock] { return clock->now(); };
    cfg.ping_interval = std::chrono::milliseconds(o.ping_interval_ms);
    cfg.sync.window = o.sync_window;
    sim->client = std::make_unique<Client>(cfg);
    sims.push_back(std::move(sim));
  }
  for (auto& s : sims) s->client->start();
  for (auto& s : sims) {
    if (!s->client->wait_ready(30s)) throw std::runtime_error("a simulated client could not connect");
  }
  // One deadline for all: a client whose RTT/2 exceeds 1 ms can never reach the 1 ms bound.
  const auto lock_deadline = std::chrono::steady_clock::now() + 5s;
  for (auto& s : sims) {
    s->client->wait_locked(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(lock_deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero())));
  }
  std::unique_ptr<Browsers> browsers;
  if (o.browsers > 0) {
    std::vector<std::string> urls;
    for (int i = 0; i < o.browsers; ++i) urls.push_back(page_url_for(i));
    browsers = std::make_unique<Browsers>(o, urls, codes.codes.at("musician"));
  }
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(o.warmup_s * 1e6)));

  // Record every beat each client commits, a lookahead before its local time.
  const int64_t lookahead = static_cast<int64_t>(o.lookahead_ms * 1000);
  std::atomic<bool> recording{true};
  std::thread recorder([&] {
    while (recording) {
      for (auto& s : sims) {
        auto& c = *s->client;
        const int64_t now = c.now_local();
        if (s->cursor == INT64_MIN) s->cursor = c.to_server(now);
        for (;;) {
          auto b = c.next_beat_from_server(s->cursor);
          if (!b || now < b->local_us - lookahead) break;
          s->cursor = b->server_us + 1;
          if (now > b->local_us) {
            ++s->late;  // too late to play it on time: an audible glitch, counted not hidden
            continue;
          }
          s->records.push_back(Record{b->server_us, b->bar, b->beat, b->rev, s->clock.real_at(b->local_us),
                                      c.sync_status().uncertainty_horizon_us});
        }
      }
      std::this_thread::sleep_for(1ms);
    }
  });

  // The tempo script: a start with count-in, then a change every change_every_s.
  std::vector<Change> changes;
  auto command = [&](const std::string& what, const std::string& type, json::object data) {
    auto r = md.send(type, std::move(data)).get();
    if (!r.ok) throw std::runtime_error(what + " failed: " + r.code + ": " + r.message);
    md.wait_seq(*r.seq, 5s);
    changes.push_back(Change{what, md.tempo()->rev, *md.tempo()});
  };
  using M = json::object;
  const std::vector<std::tuple<std::string, std::string, json::object>> script = {
      {"set 96", "tempo.set", M{{"bpm", 96}}},
      {"set 140 6/8", "tempo.set", M{{"bpm", 140}, {"meter", M{{"beats", 6}, {"unit", 8}}}}},
      {"set 172.5 4/4 sub 2", "tempo.set", M{{"bpm", 172.5}, {"meter", M{{"beats", 4}, {"unit", 4}}}, {"subdivision", 2}}},
      {"stop", "tempo.stop", M{}},
      {"start count-in 1", "tempo.start", M{{"count_in_bars", 1}}},
      {"set 63 3/4", "tempo.set", M{{"bpm", 63}, {"meter", M{{"beats", 3}, {"unit", 4}}}}},
      {"set 128 7/8 accents", "tempo.set",
       M{{"bpm", 128}, {"meter", M{{"beats", 7}, {"unit", 8}}}, {"accents", json::array{2, 1, 1, 2, 1, 2, 1}}}},
  };
  command("set 120 4/4", "tempo.set", M{{"bpm", 120}, {"meter", M{{"beats", 4}, {"unit", 4}}}, {"subdivision", 1}});
  command("start count-in 1", "tempo.start", M{{"count_in_bars", 1}});
  const auto t_start = std::chrono::steady_clock::now();
  const auto t_end = t_start + std::chrono::microseconds(static_cast<int64_t>(o.duration_s * 1e6));
  std::size_t next = 0;
  auto next_change = t_start + std::chrono::microseconds(static_cast<int64_t>(o.change_every_s * 1e6));
  while (std::chrono::steady_clock::now() < t_end) {
    if (std::chrono::steady_clock::now() >= next_change &&
        next_change + std::chrono::seconds(2) < t_end) {  // leave time for a change to land before the end
      auto& [what, type, data] = script[next++ % script.size()];
      command(what, type, data);
      next_change += std::chrono::microseconds(static_cast<int64_t>(o.change_every_s * 1e6));
    }
    std::this_thread::sleep_for(10ms);
  }
  recording = false;
  recorder.join();
  const int64_t end_server = md.to_server(md.now_local());
  std::vector<Page> pages;
  if (browsers) pages = browsers->finish();

  // ---- analysis -------------------------------------------------------------------------------
  Results r;
  r.mode = mode;
  r.clients = o.clients;
  std::map<int64_t, std::vector<double>> by_beat;  // room time → true instants, one per client
  std::vector<double> abs_err, bounds;
  for (auto& s : sims) {
    r.late += s->late;
    for (auto& rec : s->records) {
      by_beat[rec.server_us].push_back(rec.real_us);
      const double err = std::fabs(rec.real_us - static_cast<double>(rec.server_us));
      abs_err.push_back(err / 1000.0);
      bounds.push_back(rec.bound_us / 1000.0);
      if (err > rec.bound_us + 1) ++r.outside_bound;  // +1 µs: rounding of the integer clock mapping
    }
    r.beats += static_cast<int64_t>(s->records.size());
  }
  std::map<int64_t, std::vector<double>> sdk_by_beat = by_beat, page_by_beat;
  std::vector<double> page_abs;
  r.browsers = static_cast<int>(pages.size());
  for (auto& p : pages) {
    for (auto& rec : p.beats) {
      // Only beats the SDK recorder could also have seen (it ran from the start of the script to its end).
      by_beat[rec.server_us].push_back(rec.real_us);
      page_by_beat[rec.server_us].push_back(rec.real_us);
      page_abs.push_back(std::fabs(rec.real_us - static_cast<double>(rec.server_us)) / 1000.0);
    }
    r.beats += static_cast<int64_t>(p.beats.size());
  }
  // The first and last few beats of the run are only partially recorded by design (start / stop of the recorder).
  auto spread_of = [](const std::map<int64_t, std::vector<double>>& groups, int64_t* n, int64_t* complete, int devices) {
    std::vector<double> spreads;
    for (auto& [t, v] : groups) {
      if (v.size() < 2) continue;
      if (n) ++*n;
      if (complete && static_cast<int>(v.size()) == devices) ++*complete;
      const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      spreads.push_back((*hi - *lo) / 1000.0);
    }
    return spreads;
  };
  const std::vector<double> spreads = spread_of(by_beat, &r.groups, &r.complete_groups, o.clients + r.browsers);
  r.p50 = percentile(spreads, 50);
  r.p99 = percentile(spreads, 99);
  r.max = spreads.empty() ? NAN : *std::max_element(spreads.begin(), spreads.end());
  if (!pages.empty()) {
    r.sdk_p99 = percentile(spread_of(sdk_by_beat, nullptr, nullptr, 0), 99);
    const std::vector<double> ps = spread_of(page_by_beat, nullptr, nullptr, 0);
    r.page_p50 = percentile(ps, 50);
    r.page_p99 = percentile(ps, 99);
    r.page_max = ps.empty() ? NAN : *std::max_element(ps.begin(), ps.end());
    r.page_abs_p99 = percentile(page_abs, 99);
    r.page_abs_max = page_abs.empty() ? NAN : *std::max_element(page_abs.begin(), page_abs.end());
    std::vector<double> pl, pl1, prtt;
    for (auto& p : pages) {
      pl.push_back(p.lock_s);
      if (std::isnan(p.lock_1ms_s)) ++r.page_unlocked_1ms;
      else pl1.push_back(p.lock_1ms_s);
      if (!std::isnan(p.min_rtt_us)) prtt.push_back(p.min_rtt_us / 1000.0);
    }
    r.page_lock_p50 = percentile(pl, 50);
    r.page_lock_max = percentile(pl, 100);
    r.page_lock_1ms_p50 = percentile(pl1, 50);
    r.page_rtt_p50 = percentile(prtt, 50);
    std::vector<double> widths, moved, joins;
    for (auto& p : pages) {
      joins.push_back(p.join_s);
      widths.push_back(p.map_width_ms);
      moved.push_back(p.map_moved_ms);
    }
    r.page_map_width_max = percentile(widths, 100);
    r.page_map_moved_max = percentile(moved, 100);
    r.page_join_p50 = percentile(joins, 50);
  }
  r.abs_p99 = percentile(abs_err, 99);
  r.abs_max = abs_err.empty() ? NAN : *std::max_element(abs_err.begin(), abs_err.end());
  r.bound_p50 = percentile(bounds, 50);
  r.bound_p99 = percentile(bounds, 99);

  std::vector<double> locks, sync_locks, rtts;
  for (auto& s : sims) {
    const auto st = s->client->sync_status();
    r.resyncs += st.resync_requests;
    rtts.push_back(static_cast<double>(st.min_rtt_us) / 1000.0);
    if (st.sync_locked_at_us && st.connect_started_us) {
      sync_locks.push_back(static_cast<double>(*st.sync_locked_at_us - *st.connect_started_us) / 1e6);
    }
    if (st.locked_at_us && st.connect_started_us) {
      locks.push_back(static_cast<double>(*st.locked_at_us - *st.connect_started_us) / (1.0 + s->clock.skew) / 1e6);
    } else {
      ++r.unlocked;
    }
  }
  r.lock_p50 = percentile(locks, 50);
  r.lock_p99 = percentile(locks, 99);
  r.lock_max = locks.empty() ? NAN : *std::max_element(locks.begin(), locks.end());
  r.sync_lock_p50 = percentile(sync_locks, 50);
  r.sync_lock_max = percentile(sync_locks, 100);
  r.rtt_p50 = percentile(rtts, 50);
  r.rtt_max = percentile(rtts, 100);

  // A change landed on the same bar everywhere when every client's beats from its anchor until the next
  // change are exactly the new state's beats: same first bar and beat, none from the old tempo.
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const auto& ch = changes[i];
    const int64_t from = ch.state.anchor_t;
    int64_t until = i + 1 < changes.size() ? changes[i + 1].state.anchor_t : end_server;
    until = std::min(until, end_server - 1'000'000);  // the recorder stopped: the tail is incomplete
    if (until <= from) continue;
    ++r.changes;
    std::vector<std::pair<int64_t, std::pair<int64_t, int>>> expected;  // server time → (bar, beat)
    core::TempoState seg = ch.state;
    seg.prev.reset();  // from the anchor on only the new segment sounds
    for (int64_t t = from;;) {
      auto b = core::next_beat(seg, t);
      if (!b || b->t >= until) break;
      expected.push_back({b->t, {b->bar, b->beat}});
      t = b->t + 1;
    }
    bool all_ok = true;
    for (std::size_t c = 0; c < sims.size() + pages.size() && all_ok; ++c) {
      std::vector<std::pair<int64_t, std::pair<int64_t, int>>> got;
      if (c < sims.size()) {
        for (auto& rec : sims[c]->records) {
          if (rec.server_us >= from && rec.server_us < until) got.push_back({rec.server_us, {rec.bar, rec.beat}});
        }
      } else {
        for (auto& rec : pages[c - sims.size()].beats) {
          if (rec.server_us >= from && rec.server_us < until) got.push_back({rec.server_us, {rec.bar, rec.beat}});
        }
      }
      if (got != expected) {
        all_ok = false;
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s (rev %lld, bar %lld): %s %zu played %zu beats, expected %zu%s", ch.what.c_str(),
                      static_cast<long long>(ch.rev), static_cast<long long>(ch.state.anchor_bar),
                      c < sims.size() ? "client" : "page", c < sims.size() ? c : c - sims.size(), got.size(),
                      expected.size(),
                      !got.empty() && !expected.empty() && got.front() != expected.front() ? ", first beat differs" : "");
        r.change_failures.push_back(buf);
      }
    }
    if (all_ok) ++r.changes_same_bar;
  }

  for (auto& s : sims) s->client->stop();
  md.stop();
  return r;
}

void print(const Results& r, const Options& o) {
  std::printf("\n== drift: %s, %d clients, %.0f s after %.0f s warm-up, offsets ±%.0f s, skew ±%.0f ppm, lookahead %.0f ms, "
              "ping every %d ms, window %d ==\n",
              r.mode.c_str(), r.clients, o.duration_s, o.warmup_s, o.max_offset_s, o.max_skew_ppm, o.lookahead_ms, o.ping_interval_ms,
              o.sync_window);
  std::printf("beats recorded         %lld (%lld beat instants, %lld heard by every client)\n", static_cast<long long>(r.beats),
              static_cast<long long>(r.groups), static_cast<long long>(r.complete_groups));
  std::printf("inter-client spread    p50 %.3f ms   p99 %.3f ms   max %.3f ms\n", r.p50, r.p99, r.max);
  std::printf("error vs room clock    p99 %.3f ms   max %.3f ms\n", r.abs_p99, r.abs_max);
  std::printf("clients' own bound     p50 %.3f ms   p99 %.3f ms   beats outside it: %lld\n", r.bound_p50, r.bound_p99,
              static_cast<long long>(r.outside_bound));
  std::printf("lock time (≤1 ms)      p50 %.3f s    p99 %.3f s    max %.3f s   (%d never locked)\n", r.lock_p50, r.lock_p99,
              r.lock_max, r.unlocked);
  std::printf("clock locked (burst)   p50 %.3f s    max %.3f s;  min RTT per client p50 %.3f ms, max %.3f ms\n",
              r.sync_lock_p50, r.sync_lock_max, r.rtt_p50, r.rtt_max);
  std::printf("tempo changes          %d/%d on the same bar everywhere (%.1f%%)\n", r.changes_same_bar, r.changes,
              r.changes ? 100.0 * r.changes_same_bar / r.changes : 0.0);
  std::printf("late beats             %lld   resync requests %lld\n", static_cast<long long>(r.late),
              static_cast<long long>(r.resyncs));
  if (r.browsers > 0) {
    std::printf("browser pages          %d (one headless Chromium): spread among pages p50 %.3f ms   p99 %.3f ms   max %.3f ms\n",
                r.browsers, r.page_p50, r.page_p99, r.page_max);
    std::printf("                       error vs room clock p99 %.3f ms   max %.3f ms;  SDK clients alone: spread p99 %.3f ms\n",
                r.page_abs_p99, r.page_abs_max, r.sdk_p99);
    std::printf("                       clock locked (from connected) p50 %.3f s   max %.3f s;  bound ≤ 1 ms p50 %.3f s (%d never);  "
                "min RTT p50 %.3f ms;  Join tap → connected p50 %.3f s\n",
                r.page_lock_p50, r.page_lock_max, r.page_lock_1ms_p50, r.page_unlocked_1ms, r.page_rtt_p50, r.page_join_p50);
    std::printf("                       page clock → CLOCK_MONOTONIC mapping: bracket ≤ %.3f ms, moved ≤ %.3f ms during the run\n",
                r.page_map_width_max, r.page_map_moved_max);
  }
  for (auto& f : r.change_failures) std::printf("  change not everywhere: %s\n", f.c_str());
}

void write_json(const Results& r, const Options& o) {
  if (o.json_out.empty()) return;
  auto num = [](double v) { return std::isnan(v) ? json::value(nullptr) : json::value(v); };
  json::object j{{"mode", r.mode},
                 {"label", o.label},
                 {"clients", r.clients},
                 {"duration_s", o.duration_s},
                 {"warmup_s", o.warmup_s},
                 {"max_skew_ppm", o.max_skew_ppm},
                 {"ping_interval_ms", o.ping_interval_ms},
                 {"sync_window", o.sync_window},
                 {"seed", o.seed},
                 {"beats", r.beats},
                 {"beat_instants", r.groups},
                 {"complete_beat_instants", r.complete_groups},
                 {"spread_ms", json::object{{"p50", num(r.p50)}, {"p99", num(r.p99)}, {"max", num(r.max)}}},
                 {"abs_error_ms", json::object{{"p99", num(r.abs_p99)}, {"max", num(r.abs_max)}}},
                 {"bound_ms", json::object{{"p50", num(r.bound_p50)}, {"p99", num(r.bound_p99)}}},
                 {"beats_outside_bound", r.outside_bound},
                 {"lock_s", json::object{{"p50", num(r.lock_p50)}, {"p99", num(r.lock_p99)}, {"max", num(r.lock_max)}}},
                 {"unlocked", r.unlocked},
                 {"sync_lock_s", json::object{{"p50", num(r.sync_lock_p50)}, {"max", num(r.sync_lock_max)}}},
                 {"min_rtt_ms", json::object{{"p50", num(r.rtt_p50)}, {"max", num(r.rtt_max)}}},
                 {"changes", r.changes},
                 {"changes_same_bar", r.changes_same_bar},
                 {"late_beats", r.late},
                 {"resync_requests", r.resyncs},
                 {"profile", o.profile},
                 {"browsers", r.browsers}};
  if (r.browsers > 0) {
    j["browser"] = json::object{{"spread_ms", json::object{{"p50", num(r.page_p50)}, {"p99", num(r.page_p99)}, {"max", num(r.page_max)}}},
                                {"abs_error_ms", json::object{{"p99", num(r.page_abs_p99)}, {"max", num(r.page_abs_max)}}},
                                {"lock_s", json::object{{"p50", num(r.page_lock_p50)}, {"max", num(r.page_lock_max)}}},
                                {"lock_1ms_s_p50", num(r.page_lock_1ms_p50)},
                                {"unlocked_1ms", r.page_unlocked_1ms},
                                {"min_rtt_ms_p50", num(r.page_rtt_p50)},
                                {"sdk_spread_p99_ms", num(r.sdk_p99)},
                                {"map_bracket_ms_max", num(r.page_map_width_max)},
                                {"map_moved_ms_max", num(r.page_map_moved_max)},
                                {"join_s_p50", num(r.page_join_p50)}};
  }
  std::ofstream(o.json_out, std::ios::app) << json::serialize(j) << "\n";
}

int verdict(const Results& r, const Options& o) {
  if (r.groups == 0) {
    std::fprintf(stderr, "FAIL: no beat was heard by two clients\n");
    return 1;
  }
  if (o.max_p99_ms > 0 && !(r.p99 <= o.max_p99_ms)) {
    std::fprintf(stderr, "FAIL: spread p99 %.3f ms > %.3f ms\n", r.p99, o.max_p99_ms);
    return 1;
  }
  return 0;
}

// One measured run, printed, recorded and judged; a failure is reported with the server's log.
int measure_and_report(const Options& o, const std::string& mode, const ServerUrl& md_url, const PathFor& path_for,
                       const testing::RoomCodes& codes, const testing::DownbeatdProcess& server, const PageUrlFor& page_url_for = {}) {
  try {
    auto r = measure(o, mode, md_url, path_for, codes, page_url_for);
    print(r, o);
    write_json(r, o);
    return verdict(r, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drift: %s (server log: %s)\n", e.what(), server.log_path().c_str());
    return 1;
  }
}

// ---- loopback: per-client impaired paths in this process ---------------------------------------

Impairment lan_profile(std::mt19937_64& rng) {
  // A busy LAN / Wi-Fi: per-client base delay, one-sided exponential jitter, 1% spikes of 2–20 ms,
  // and up to ±100 µs of path asymmetry (which no ping-based sync can observe).
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Impairment imp;
  const double base = 200 + 1800 * u(rng);
  const double asym = (2 * u(rng) - 1) * 100;
  imp.base_up_us = base + asym;
  imp.base_down_us = base - asym;
  imp.jitter = Impairment::Jitter::exponential;
  imp.jitter_us = 100 + 900 * u(rng);
  imp.spike_prob = 0.01;
  imp.spike_min_us = 2000;
  imp.spike_max_us = 20000;
  return imp;
}

// The netns path model (5 ms ± 5 ms uniform each way, 1 % of chunks retransmitted after the RTO)
// on one loopback path: browser pages cannot be moved into a network namespace from here.
Impairment netem_profile(const Options& o) {
  Impairment imp;
  imp.base_up_us = imp.base_down_us = o.delay_ms * 1000;
  imp.jitter = Impairment::Jitter::uniform;
  imp.jitter_us = o.jitter_ms * 1000;
  imp.loss = o.loss;
  imp.rto_us = o.rto_ms * 1000;
  return imp;
}

int run_loopback(const Options& o) {
  testing::DownbeatdProcess server(o.downbeatd);
  const auto codes = server.create_room("Drift");
  if (o.browsers > 0) {
    if (o.web_root.empty() || !std::filesystem::exists(std::filesystem::path(o.web_root) / "index.html"))
      throw std::runtime_error("--browsers needs --web-root pointing at the built web app (web/dist: run `npm run build` in web/)");
    if (o.pages_script.empty() || !std::filesystem::exists(o.pages_script))
      throw std::runtime_error("--browsers needs --pages-script (bench/drift/pages.mjs)");
    if (!std::filesystem::exists(o.chromium))
      throw std::runtime_error("Chromium not found at " + o.chromium + ": install Debian's chromium (make deps) or pass --chromium");
  }
  asio::io_context proxy_ioc;
  std::vector<std::unique_ptr<ImpairedProxy>> proxies;
  std::mt19937_64 rng(o.seed * 7919);
  const asio::ip::tcp::endpoint localhost0(asio::ip::make_address("127.0.0.1"), 0);
  // The pages' paths first: the server must allow each page's origin (its proxy's port) for the socket.
  std::vector<std::unique_ptr<ImpairedProxy>> page_proxies;
  std::vector<std::string> server_args;
  for (int i = 0; i < o.browsers; ++i) {
    const Impairment imp = o.profile == "clean" ? Impairment{} : o.profile == "netem" ? netem_profile(o) : lan_profile(rng);
    page_proxies.push_back(std::make_unique<ImpairedProxy>(proxy_ioc, localhost0, localhost0, imp, rng()));
    server_args.insert(server_args.end(), {"--allow-origin", "http://127.0.0.1:" + std::to_string(page_proxies.back()->port())});
  }
  if (o.browsers > 0) server_args.insert(server_args.end(), {"--web-root", o.web_root});
  server.start("127.0.0.1:0", server_args);
  const auto md_url = *parse_server_url(server.url());
  const asio::ip::tcp::endpoint upstream(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port()));
  for (auto& p : page_proxies) p->set_upstream(upstream);
  for (int i = 0; i < o.clients; ++i) {
    const Impairment imp = o.profile == "clean" ? Impairment{} : o.profile == "netem" ? netem_profile(o) : lan_profile(rng);
    proxies.push_back(std::make_unique<ImpairedProxy>(proxy_ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                                                      upstream, imp, rng()));
  }
  auto guard = asio::make_work_guard(proxy_ioc);
  std::thread proxy_thread([&] { proxy_ioc.run(); });
  int rc = measure_and_report(o, "loopback, " + o.profile + " paths", md_url, [&](int i) {
    ServerUrl u = md_url;
    u.port = std::to_string(proxies[static_cast<std::size_t>(i)]->port());
    return u;
  }, codes, server, [&](int i) {
    return "http://127.0.0.1:" + std::to_string(page_proxies[static_cast<std::size_t>(i)]->port());
  });
  proxy_ioc.stop();
  proxy_thread.join();
  return rc;
}

// ---- netns: server and clients in two namespaces joined by a veth pair -------------------------

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

struct Namespaces {
  std::string srv, cli, veth_srv, veth_cli;
  bool made = false;
  ~Namespaces() {
    if (!made) return;
    sh("ip netns del " + srv);  // deleting a namespace deletes its end of the veth pair, and so both
    sh("ip netns del " + cli);
  }
};

pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

int run_netns(const Options& o, const std::string& self) {
  Namespaces ns;
  const auto id = std::to_string(::getpid() % 100000);
  ns.srv = "dbdrift-srv-" + id;
  ns.cli = "dbdrift-cli-" + id;
  ns.veth_srv = "dbs" + id;
  ns.veth_cli = "dbc" + id;
  const std::string subnet = "10.231." + std::to_string(::getpid() % 250) + ".";
  if (sh("ip netns add " + ns.srv) != 0) {
    std::printf("SKIP: cannot create network namespaces here (needs root / CAP_SYS_ADMIN and `ip`); "
                "run the loopback mode instead\n");
    return kSkip;
  }
  ns.made = true;
  const bool ok = sh("ip netns add " + ns.cli) == 0 &&
                  sh("ip link add " + ns.veth_srv + " type veth peer name " + ns.veth_cli) == 0 &&
                  sh("ip link set " + ns.veth_srv + " netns " + ns.srv) == 0 &&
                  sh("ip link set " + ns.veth_cli + " netns " + ns.cli) == 0 &&
                  sh("ip -n " + ns.srv + " addr add " + subnet + "1/24 dev " + ns.veth_srv) == 0 &&
                  sh("ip -n " + ns.cli + " addr add " + subnet + "2/24 dev " + ns.veth_cli) == 0 &&
                  sh("ip -n " + ns.srv + " link set " + ns.veth_srv + " up") == 0 &&
                  sh("ip -n " + ns.cli + " link set " + ns.veth_cli + " up") == 0 &&
                  sh("ip -n " + ns.srv + " link set lo up") == 0 && sh("ip -n " + ns.cli + " link set lo up") == 0;
  if (!ok) {
    std::printf("SKIP: network namespaces exist but a veth link could not be made here\n");
    return kSkip;
  }
  // The server listens on the namespace's loopback (plain ws is only allowed there); the proxy in the same
  // namespace is the link's far end on the veth address and adds the delay/jitter/loss netem would.
  testing::DownbeatdProcess server(o.downbeatd, {"ip", "netns", "exec", ns.srv});
  const auto codes = server.create_room("Drift");
  server.start();
  const std::string proxy_port = "7400";
  const auto proxy_ready = server.data_dir() / "proxy.ready";
  char delay[32], jitter[32], loss[32], rto[32];
  std::snprintf(delay, sizeof delay, "%g", o.delay_ms);
  std::snprintf(jitter, sizeof jitter, "%g", o.jitter_ms);
  std::snprintf(loss, sizeof loss, "%g", o.loss);
  std::snprintf(rto, sizeof rto, "%g", o.rto_ms);
  const pid_t proxy = spawn({"ip", "netns", "exec", ns.srv, self, "proxy", "--listen", subnet + "1:" + proxy_port, "--to",
                             "127.0.0.1:" + std::to_string(server.port()), "--delay-ms", delay, "--jitter-ms", jitter,
                             "--loss", loss, "--rto-ms", rto, "--ready-file", proxy_ready.string()});
  for (int i = 0; i < 500 && !std::filesystem::exists(proxy_ready); ++i) std::this_thread::sleep_for(10ms);

  // From here on this process (and the client threads it starts) lives in the clients' namespace.
  const int fd = ::open(("/run/netns/" + ns.cli).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    ::kill(proxy, SIGTERM);
    ::waitpid(proxy, nullptr, 0);
    std::printf("SKIP: cannot enter the clients' network namespace\n");
    return kSkip;
  }
  ::close(fd);
  auto url = *parse_server_url("http://" + subnet + "1:" + proxy_port);
  char mode[160];
  std::snprintf(mode, sizeof mode, "netns veth + userspace netem (%g ms ± %g ms each way, %g%% loss)", o.delay_ms, o.jitter_ms,
                o.loss * 100);
  int rc = measure_and_report(o, mode, url, [&](int) { return url; }, codes, server);
  ::kill(proxy, SIGTERM);
  ::waitpid(proxy, nullptr, 0);
  return rc;
}

// ---- proxy: the netns link's impairment, as its own process ------------------------------------

int run_proxy(const std::string& listen, const std::string& to, const Options& o, const std::string& ready_file) {
  auto endpoint = [](const std::string& text) {
    const auto colon = text.rfind(':');
    return asio::ip::tcp::endpoint(asio::ip::make_address(text.substr(0, colon)),
                                   static_cast<uint16_t>(std::stoi(text.substr(colon + 1))));
  };
  Impairment imp = netem_profile(o);
  asio::io_context ioc;
  ImpairedProxy proxy(ioc, endpoint(listen), endpoint(to), imp, o.seed);
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](auto, int) { ioc.stop(); });
  if (!ready_file.empty()) std::ofstream(ready_file) << proxy.port() << "\n";
  ioc.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"drift: inter-client beat spread of libdownbeat clients against a real downbeatd"};
  app.require_subcommand(1);
  Options o;
  auto common = [&](CLI::App* sub) {
    sub->add_option("--downbeatd", o.downbeatd, "path to the downbeatd binary")->required();
    sub->add_option("--clients,-n", o.clients, "simulated clients")->capture_default_str();
    sub->add_option("--duration", o.duration_s, "seconds of clicking")->capture_default_str();
    sub->add_option("--change-every", o.change_every_s, "seconds between tempo changes")->capture_default_str();
    sub->add_option("--warmup", o.warmup_s, "seconds connected before the click starts")->capture_default_str();
    sub->add_option("--lookahead-ms", o.lookahead_ms, "how early a client commits a beat's time")->capture_default_str();
    sub->add_option("--max-offset-s", o.max_offset_s, "clock offsets are uniform in ± this")->capture_default_str();
    sub->add_option("--max-skew-ppm", o.max_skew_ppm, "clock skews are uniform in ± this")->capture_default_str();
    sub->add_option("--seed", o.seed, "random seed")->capture_default_str();
    sub->add_option("--ping-interval-ms", o.ping_interval_ms, "steady time.ping interval of the clients")->capture_default_str();
    sub->add_option("--sync-window", o.sync_window, "clock-sync samples kept")->capture_default_str();
    sub->add_option("--max-p99-ms", o.max_p99_ms, "fail (exit 1) when the spread p99 exceeds this");
    sub->add_option("--json", o.json_out, "append the figures as one JSON line to this file");
    sub->add_option("--label", o.label, "free text stored with the JSON figures");
  };
  auto* loopback = app.add_subcommand("loopback", "clients on 127.0.0.1, each behind its own impaired path");
  common(loopback);
  loopback->add_option("--profile", o.profile, "lan: per-client delay, jitter, spikes; clean: proxy without impairment")
      ->check(CLI::IsMember({"lan", "clean", "netem"}))
      ->capture_default_str();
  loopback->add_option("--delay-ms", o.delay_ms, "netem profile: one-way delay")->capture_default_str();
  loopback->add_option("--jitter-ms", o.jitter_ms, "netem profile: ± uniform jitter")->capture_default_str();
  loopback->add_option("--loss", o.loss, "netem profile: chunks retransmitted after the RTO")->capture_default_str();
  loopback->add_option("--browsers", o.browsers, "musician pages of the web app in one headless Chromium (browser mode)")
      ->capture_default_str();
  loopback->add_option("--web-root", o.web_root, "the built web app the server serves to the pages (web/dist)");
  loopback->add_option("--pages-script", o.pages_script, "bench/drift/pages.mjs");
  loopback->add_option("--node", o.node, "node binary for the pages script")->capture_default_str();
  loopback->add_option("--chromium", o.chromium, "Chromium binary")->capture_default_str();
  auto* netns = app.add_subcommand("netns", "server and clients in two network namespaces over veth + userspace netem");
  common(netns);
  netns->add_option("--delay-ms", o.delay_ms)->capture_default_str();
  netns->add_option("--jitter-ms", o.jitter_ms)->capture_default_str();
  netns->add_option("--loss", o.loss)->capture_default_str();
  netns->add_option("--rto-ms", o.rto_ms, "delay of a lost chunk's retransmission")->capture_default_str();
  auto* proxy = app.add_subcommand("proxy", "an impaired TCP proxy (netns mode runs it in the server's namespace)");
  std::string listen, to, ready;
  proxy->add_option("--listen", listen)->required();
  proxy->add_option("--to", to)->required();
  proxy->add_option("--delay-ms", o.delay_ms)->capture_default_str();
  proxy->add_option("--jitter-ms", o.jitter_ms)->capture_default_str();
  proxy->add_option("--loss", o.loss)->capture_default_str();
  proxy->add_option("--rto-ms", o.rto_ms)->capture_default_str();
  proxy->add_option("--seed", o.seed)->capture_default_str();
  proxy->add_option("--ready-file", ready);
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    if (*loopback) return run_loopback(o);
    if (*netns) return run_netns(o, std::filesystem::canonical("/proc/self/exe").string());
    if (*proxy) return run_proxy(listen, to, o, ready);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drift: %s\n", e.what());
    return 1;
  }
  return 0;
}
