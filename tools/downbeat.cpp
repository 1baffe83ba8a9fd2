// `downbeat`: the command-line client on libdownbeat — join a room, watch it click, drive the tempo, check the clock.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "downbeat/downbeat.hpp"
#include "session_store.hpp"

namespace json = boost::json;
using namespace downbeat;
using namespace std::chrono_literals;

namespace {

// Exit codes: 0 ok, 1 the server refused (error code printed), 2 usage, 3 could not connect / no session.
constexpr int kServerError = 1;
constexpr int kNoConnection = 3;

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted = true; }

struct Options {
  std::string session_path;
  int timeout_s = 10;
};

int fail(const std::string& code, const std::string& message, int exit_code) {
  std::cerr << "error: " << code << ": " << message << "\n";
  return exit_code;
}

std::filesystem::path session_path(const Options& o) {
  return o.session_path.empty() ? cli::default_session_path() : std::filesystem::path(o.session_path);
}

// Connects with the saved session; refreshes tokens through the shared, locked session file.
struct Connected {
  std::unique_ptr<Client> client;
  cli::SavedSession saved;
};

std::optional<Connected> connect(const Options& o, int& exit_code, bool quiet_status = true) {
  const auto path = session_path(o);
  auto saved = cli::load_session(path);
  if (!saved) {
    exit_code = fail("no_session", "no session in " + path.string() + ": run `downbeat join LINK --name NAME` first", kNoConnection);
    return std::nullopt;
  }
  ClientConfig cfg;
  cfg.server = saved->server;
  cfg.tls = saved->tls;
  cfg.tokens = saved->session.tokens;
  cfg.refresher = [path](const Tokens& stale) { return cli::refresh_shared(path, stale); };
  auto last_reason = std::make_shared<std::string>();
  auto reason_mu = std::make_shared<std::mutex>();
  cfg.on_status = [quiet_status, last_reason, reason_mu](ConnectionState s, const std::string& reason) {
    if (!reason.empty()) {
      std::lock_guard lock(*reason_mu);
      *last_reason = reason;
    }
    if (!quiet_status && (s == ConnectionState::backoff || s == ConnectionState::connected)) {
      std::cerr << (::isatty(STDERR_FILENO) ? "\r\033[K-- " : "-- ") << to_string(s) << (reason.empty() ? "" : ": " + reason) << "\n";
    }
  };
  Connected c{std::make_unique<Client>(std::move(cfg)), *saved};
  c.client->start();
  if (!c.client->wait_ready(std::chrono::seconds(o.timeout_s))) {
    std::string reason;
    {
      std::lock_guard lock(*reason_mu);
      reason = *last_reason;
    }
    exit_code = fail("unavailable", "could not connect to " + saved->server.http_base() + (reason.empty() ? "" : ": " + reason),
                     kNoConnection);
    return std::nullopt;
  }
  return c;
}

int run_command(const Options& o, const std::string& type, json::object data) {
  int code = 0;
  auto c = connect(o, code);
  if (!c) return code;
  auto result = c->client->send(type, std::move(data)).get();
  c->client->stop();
  if (!result.ok) return fail(result.code, result.message, kServerError);
  std::cout << "ok" << (result.seq ? " seq " + std::to_string(*result.seq) : std::string{}) << "\n";
  return 0;
}

std::string describe_tempo(const core::TempoState& t) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %.3g bpm %d/%d subdivision %d rev %lld (bar %lld at server %lld µs)",
                t.running ? "running" : "stopped", t.bpm, t.meter.beats, t.meter.unit, t.subdivision,
                static_cast<long long>(t.rev), static_cast<long long>(t.anchor_bar), static_cast<long long>(t.anchor_t));
  return buf;
}

// ---- join ---------------------------------------------------------------------------------------

int cmd_join(const Options& o, const std::string& target_text, const std::string& name, const std::string& server_text,
             const std::string& fingerprint, bool insecure) {
  auto target = parse_join_target(target_text);
  if (!target) return fail("bad_request", "'" + target_text + "' is neither a join link (https://HOST:PORT/j/CODE) nor a code", 2);
  std::optional<ServerUrl> server = target->server;
  if (!server_text.empty()) server = parse_server_url(server_text);
  if (!server) return fail("bad_request", "a bare code needs --server https://HOST:PORT (the address downbeatd printed)", 2);
  const auto path = session_path(o);
  cli::SavedSession saved;
  if (auto old = cli::load_session(path)) saved.device_id = old->device_id;
  if (saved.device_id.empty()) saved.device_id = cli::new_device_id();
  saved.server = *server;
  saved.tls.insecure = insecure;
  if (!fingerprint.empty()) {
    saved.tls.pin_sha256 = normalize_fingerprint(fingerprint);
    if (saved.tls.pin_sha256.empty()) return fail("bad_request", "--fingerprint must be the 64 hex digit SHA-256 downbeatd printed", 2);
  }
  try {
    saved.session = exchange_code(saved.server, target->code, name, saved.device_id, saved.tls);
  } catch (const Error& e) {
    return fail(e.code(), e.message(), e.http_status() ? kServerError : kNoConnection);
  }
  cli::save_session(path, saved);
  const auto& p = saved.session.participant;
  auto field = [](const json::object& obj, const char* key) {
    auto* v = obj.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string("?");
  };
  std::cout << "joined " << field(saved.session.room, "name") << " as " << field(p, "name") << " (" << field(p, "role")
            << ")\nsession saved to " << path.string() << "\n";
  return 0;
}

// ---- watch --------------------------------------------------------------------------------------

int cmd_watch(const Options& o, bool no_beat, bool show_pongs, bool subdivisions) {
  int code = 0;
  auto c = connect(o, code, false);
  if (!c) return code;
  auto& client = *c->client;
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  std::mutex out_mu;
  bool beat_line_open = false;
  auto print_line = [&](const std::string& line) {
    std::lock_guard lock(out_mu);
    if (beat_line_open) std::cout << "\r\033[K";
    beat_line_open = false;
    std::cout << line << std::endl;
  };
  auto me = client.me();
  {
    auto s = client.state();
    print_line("watching " + (s.room.contains("name") ? json::serialize(s.room.at("name")) : std::string("?")) + " as " +
               (me.contains("name") ? json::serialize(me.at("name")) : std::string("?")) + " — Ctrl-C to stop");
    if (s.tempo) print_line("tempo " + describe_tempo(*s.tempo));
  }
  client.subscribe([&](const Event& ev) {
    if (ev.type == "tempo.update" || (ev.type == "time.pong" && !show_pongs)) return;
    if (ev.type == "tempo.anchor" && !ev.seq) return;  // the per-bar re-send of an anchor we already have
    std::string line = ev.seq ? "[" + std::to_string(*ev.seq) + "] " : std::string("[-] ");
    line += ev.type + " " + json::serialize(ev.data);
    print_line(line);
    if (ev.type == "tempo.anchor") {
      if (auto t = client.tempo()) print_line("tempo " + describe_tempo(*t));
    }
  });
  std::unique_ptr<Metronome> metronome;
  if (!no_beat) {
    metronome = std::make_unique<Metronome>(client, [&](const ScheduledBeat& b) {
      if (b.sub != 0 && !subdivisions) return;
      static const char* marks[] = {"·", "○", "●"};
      char buf[96];
      if (b.count_in) {
        std::snprintf(buf, sizeof buf, "count-in %lld beat %d %s", static_cast<long long>(-b.bar), b.beat + 1,
                      marks[std::clamp(b.accent, 0, 2)]);
      } else {
        std::snprintf(buf, sizeof buf, "bar %lld beat %d%s %s  (%.4g bpm)", static_cast<long long>(b.bar + 1), b.beat + 1,
                      b.sub ? ("+" + std::to_string(b.sub)).c_str() : "", marks[std::clamp(b.accent, 0, 2)], b.bpm);
      }
      std::lock_guard lock(out_mu);
      if (tty) {
        std::cout << "\r\033[K" << buf << std::flush;
        beat_line_open = true;
      } else {
        std::cout << buf << std::endl;
      }
    });
  }
  while (!g_interrupted) std::this_thread::sleep_for(100ms);
  if (metronome) metronome->stop();
  client.stop();
  if (tty) std::cout << "\n";
  return 0;
}

// ---- status -------------------------------------------------------------------------------------

int cmd_status(const Options& o, double wait_s) {
  int code = 0;
  auto c = connect(o, code);
  if (!c) return code;
  auto& client = *c->client;
  client.wait_locked(std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000)));
  const auto sync = client.sync_status();
  const auto state = client.state();
  const auto me = client.me();
  auto str = [](const json::object& obj, const char* key) {
    auto* v = obj.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string("?");
  };
  std::printf("server       %s\n", c->saved.server.http_base().c_str());
  std::printf("room         %s (%s)\n", str(state.room, "name").c_str(), str(state.room, "id").c_str());
  std::printf("me           %s, %s (%s)\n", str(me, "name").c_str(), str(me, "role").c_str(), str(me, "id").c_str());
  std::printf("seq          %lld\n", static_cast<long long>(state.seq));
  std::printf("clock        %s, %lld samples, %lld lost, %lld resyncs\n", sync.locked ? "locked" : "NOT locked",
              static_cast<long long>(sync.samples), static_cast<long long>(sync.lost_pings),
              static_cast<long long>(sync.resync_requests));
  std::printf("offset       %+.3f ms (server − local)\n", static_cast<double>(sync.offset_us) / 1000.0);
  std::printf("rtt          %.3f ms (minimum)\n", static_cast<double>(sync.min_rtt_us) / 1000.0);
  std::printf("uncertainty  ±%.3f ms now, ±%.3f ms until the next ping\n", sync.uncertainty_us / 1000.0,
              sync.uncertainty_horizon_us / 1000.0);
  std::printf("jitter       %.3f ms\n", sync.jitter_us / 1000.0);
  std::printf("skew         %+.2f ppm\n", sync.skew_ppm);
  if (sync.locked_at_us && sync.connect_started_us) {
    std::printf("lock time    %.3f s\n", static_cast<double>(*sync.locked_at_us - *sync.connect_started_us) / 1e6);
  }
  if (state.tempo) std::printf("tempo        %s\n", describe_tempo(*state.tempo).c_str());
  if (auto b = client.next_beat(client.now_local())) {
    std::printf("next beat    bar %lld beat %d in %.1f ms\n", static_cast<long long>(b->bar + 1), b->beat + 1,
                static_cast<double>(b->local_us - client.now_local()) / 1000.0);
  }
  client.stop();
  return 0;
}

std::optional<core::Meter> parse_meter(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  try {
    return core::Meter{std::stoi(text.substr(0, slash)), std::stoi(text.substr(slash + 1))};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"downbeat: join a Downbeat room, watch it click, drive the tempo (libdownbeat)"};
  app.require_subcommand(1);
  Options o;
  app.add_option("--session", o.session_path, "session file (default $DOWNBEAT_SESSION or $XDG_CONFIG_HOME/downbeat/session.json)");
  app.add_option("--timeout", o.timeout_s, "seconds to wait for the server")->capture_default_str();

  auto* join = app.add_subcommand("join", "exchange a join code (link or bare code) for a session");
  std::string join_target, join_name, join_server, join_fp;
  bool join_insecure = false;
  join->add_option("target", join_target, "join link https://HOST:PORT/j/CODE or the CODE")->required();
  join->add_option("--name,-n", join_name, "your name as the room sees it")->required();
  join->add_option("--server", join_server, "server URL when only a code is given");
  join->add_option("--fingerprint", join_fp, "SHA-256 fingerprint of the server certificate (printed by downbeatd)");
  join->add_flag("--insecure", join_insecure, "accept any TLS certificate (tests only)");

  auto* watch = app.add_subcommand("watch", "print the room's events and a live beat line");
  bool no_beat = false, pongs = false, subdivisions = false;
  watch->add_flag("--no-beat", no_beat, "events only");
  watch->add_flag("--pongs", pongs, "also print time.pong");
  watch->add_flag("--subdivisions", subdivisions, "also show subdivision clicks");

  auto* status = app.add_subcommand("status", "connection and clock sync: offset, RTT, uncertainty");
  double status_wait = 2.0;
  status->add_option("--wait", status_wait, "seconds to wait for the clock to lock")->capture_default_str();

  auto* tempo = app.add_subcommand("tempo", "drive the click (music director)");
  tempo->require_subcommand(1);
  auto* tset = tempo->add_subcommand("set", "change bpm / meter / accents / subdivision on the next bar");
  std::optional<double> bpm;
  std::string meter_text;
  std::vector<int> accents;
  std::optional<int> subdivision;
  tset->add_option("bpm", bpm, "beats per minute (20–400)");
  tset->add_option("--meter", meter_text, "e.g. 4/4, 6/8");
  tset->add_option("--accents", accents, "level per beat, 0 silent 1 normal 2 accent: 2,1,1,1")->delimiter(',');
  tset->add_option("--subdivision", subdivision, "clicks per beat (1–4)");
  auto* tstart = tempo->add_subcommand("start", "start the click on the next bar");
  int count_in = 0;
  tstart->add_option("--count-in", count_in, "count-in bars (0–4)")->capture_default_str();
  auto* tstop = tempo->add_subcommand("stop", "stop the click on the next bar");

  auto* send = app.add_subcommand("send", "send any command: downbeat send cue '{\"text\":\"Chorus\"}'");
  std::string send_type, send_data = "{}";
  send->add_option("type", send_type, "command type")->required();
  send->add_option("data", send_data, "JSON object")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    if (*join) return cmd_join(o, join_target, join_name, join_server, join_fp, join_insecure);
    if (*watch) return cmd_watch(o, no_beat, pongs, subdivisions);
    if (*status) return cmd_status(o, status_wait);
    if (*tset) {
      json::object data;
      if (bpm) data["bpm"] = *bpm;
      if (!meter_text.empty()) {
        auto meter = parse_meter(meter_text);
        if (!meter) return fail("bad_request", "--meter must look like 4/4 or 6/8", 2);
        data["meter"] = json::object{{"beats", meter->beats}, {"unit", meter->unit}};
      }
      if (!accents.empty()) {
        json::array a;
        for (int level : accents) a.push_back(level);
        data["accents"] = std::move(a);
      }
      if (subdivision) data["subdivision"] = *subdivision;
      if (data.empty()) return fail("bad_request", "give a bpm and/or --meter, --accents, --subdivision", 2);
      return run_command(o, "tempo.set", std::move(data));
    }
    if (*tstart) return run_command(o, "tempo.start", json::object{{"count_in_bars", count_in}});
    if (*tstop) return run_command(o, "tempo.stop", {});
    if (*send) {
      boost::system::error_code ec;
      auto data = json::parse(send_data, ec);
      if (ec || !data.is_object()) return fail("bad_request", "data must be a JSON object", 2);
      return run_command(o, send_type, std::move(data.as_object()));
    }
  } catch (const Error& e) {
    return fail(e.code(), e.message(), kServerError);
  } catch (const std::exception& e) {
    return fail("internal", e.what(), kServerError);
  }
  return 0;
}
