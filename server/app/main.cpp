// downbeatd: serve rooms, and the admin verbs that need no server round trip.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "server/app/admin.hpp"
#include "server/auth/jwt.hpp"
#include "server/hub/hub.hpp"
#include "server/net/http_server.hpp"
#include "server/net/tls_cert.hpp"

namespace fs = std::filesystem;
using namespace downbeat::server;

namespace {

// JSON-lines logs for log shippers: the message is escaped so every line parses.
class EscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      if (c == '"' || c == '\\') dest.push_back('\\');
      if (c == '\n') {
        dest.append(std::string_view("\\n"));
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20) continue;
      dest.push_back(c);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<EscapedMessage>(); }
};

void setup_logging(bool json_lines, const std::string& level) {
  auto logger = spdlog::stderr_color_mt("downbeatd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  if (json_lines) {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    f->add_flag<EscapedMessage>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(f));
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
}

std::string default_web_root() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (const fs::path& candidate : {exe.parent_path() / "../../web/dist", fs::path("web/dist")})
    if (fs::exists(candidate / "index.html", ec)) return fs::weakly_canonical(candidate, ec).string();
  return {};
}

bool is_loopback(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

// --metrics-token FILE|VALUE: the first line of FILE when it names one, else the value itself.
std::string read_secret(const std::string& v) {
  std::error_code ec;
  if (v.empty() || !fs::is_regular_file(v, ec)) return v;
  std::ifstream in(v);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) throw std::invalid_argument("--metrics-token file " + v + " is empty");
  return line;
}

// The names and addresses this server answers to: what a browser's Origin may name.
std::vector<std::string> served_hosts(const std::string& listen_address, const std::string& cert_path) {
  std::vector<std::string> out;
  if (!cert_path.empty()) out = cert_names(cert_path);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(listen_address, ec);
  bool any = !ec && a.is_unspecified();
  if (!any) out.push_back(listen_address);
  if (any) {
    for (const auto& ip : lan_addresses()) out.push_back(ip);
    out.push_back(host_name());
    out.push_back(host_name() + ".local");
  }
  if (any || (!ec && a.is_loopback())) {
    for (const char* h : {"localhost", "127.0.0.1", "::1"}) out.emplace_back(h);
  }
  return out;
}

std::unique_ptr<Storage> open_storage(const std::string& data_dir) {
  fs::create_directories(data_dir);
  return std::make_unique<Storage>((fs::path(data_dir) / "downbeat.db").string());
}

struct ServeArgs {
  std::string data_dir = "./var";
  std::string listen = "0.0.0.0:8443";
  std::string tls = "auto";
  std::vector<std::string> allow_origins;
  std::string web_root;
  std::string ready_file;
  bool log_json = false;
  std::string log_level = "info";
  int lead_ms = 300;
  int grace_s = 60;
  int max_conns_per_ip = 64;
  int max_http_conns_per_ip = 64;
  int handshake_timeout_s = 10;
  int http_idle_timeout_s = 30;
  int max_participants = 200;
  int max_songs = 2000;
  std::size_t max_snapshot_bytes = 2u << 20;
  int joins_per_min_per_address = 30;
  int joins_per_min_per_code = 300;
  int md_code_ttl_s = 0;
  std::size_t max_send_queue = 1024;
  std::size_t max_send_queue_bytes = 4 * 1024 * 1024;
  int send_timeout_s = 30;
  std::string metrics_token;
  bool quiet_qr = false;
};

int serve(const ServeArgs& a) {
  setup_logging(a.log_json, a.log_level);
  auto colon = a.listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen must be ADDR:PORT, e.g. 0.0.0.0:8443");
  ServerOptions opts;
  opts.address = a.listen.substr(0, colon);
  if (opts.address.starts_with('[') && opts.address.ends_with(']')) opts.address = opts.address.substr(1, opts.address.size() - 2);
  int port = std::stoi(a.listen.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::invalid_argument("--listen port must be 0-65535");
  opts.port = static_cast<std::uint16_t>(port);
  opts.allow_origins = a.allow_origins;
  opts.web_root = a.web_root.empty() ? default_web_root() : a.web_root;
  opts.session.max_queue = a.max_send_queue;
  opts.session.max_queue_bytes = a.max_send_queue_bytes;
  opts.session.send_timeout = std::chrono::seconds(a.send_timeout_s);
  // Tests only: lets an integration test throw inside a connection coroutine.
  opts.session.fault_inject = std::getenv("DOWNBEAT_FAULT_INJECT") != nullptr;
  opts.max_ws_per_address = a.max_conns_per_ip;
  opts.max_http_per_address = a.max_http_conns_per_ip;
  opts.handshake_timeout = std::chrono::seconds(a.handshake_timeout_s);
  opts.idle_timeout = std::chrono::seconds(a.http_idle_timeout_s);
  opts.metrics_token = read_secret(a.metrics_token);
  opts.tls = a.tls != "off";
  if (!opts.tls && !is_loopback(opts.address))
    throw std::invalid_argument("--tls off is only allowed on a loopback address (127.0.0.1 or ::1): phones need HTTPS for the microphone");

  fs::create_directories(a.data_dir);
  // One server per data directory; `song import` takes the same lock, so it never writes behind a server.
  DataDirLock lock(a.data_dir, "another downbeatd is already serving --data-dir " + a.data_dir + ": stop it first, or use another data directory");
  auto storage = open_storage(a.data_dir);
  if (storage->rooms().empty()) {
    auto rc = create_room(*storage, "Rehearsal");
    spdlog::info("room.created room={} name=Rehearsal (first start)", rc.room);
  }
  JwtKey key = load_or_create_jwt_key((fs::path(a.data_dir) / "jwt.key").string());

  std::shared_ptr<boost::asio::ssl::context> ssl;
  std::string fingerprint;
  CertFiles cert;
  if (opts.tls) {
    if (a.tls == "auto") {
      cert = ensure_self_signed_cert(a.data_dir);
    } else {
      auto sep = a.tls.find(':');
      if (sep == std::string::npos) throw std::invalid_argument("--tls must be auto, off or CERT:KEY");
      cert = describe_cert(a.tls.substr(0, sep), a.tls.substr(sep + 1));
    }
    ssl = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    ssl->set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                     boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
    ssl->use_certificate_chain_file(cert.cert_path);
    ssl->use_private_key_file(cert.key_path, boost::asio::ssl::context::pem);
    // An idle phone's TLS connection gives back OpenSSL's read and write buffers (about 17 KiB each
    // direction at most) between records instead of holding them for its whole life.
    SSL_CTX_set_mode(ssl->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    fingerprint = cert.fingerprint_sha256;
  }
  opts.served_hosts = served_hosts(opts.address, cert.cert_path);

  HubConfig hc;
  hc.room.tempo_lead_us = static_cast<std::int64_t>(a.lead_ms) * 1000;
  hc.room.grace_us = static_cast<std::int64_t>(a.grace_s) * 1'000'000;
  hc.max_conns_per_ip = a.max_conns_per_ip;
  hc.max_participants_per_room = a.max_participants;
  hc.room.max_songs = static_cast<std::size_t>(a.max_songs);
  hc.room.max_snapshot_bytes = a.max_snapshot_bytes;
  hc.joins_per_min_per_address = a.joins_per_min_per_address;
  hc.joins_per_min_per_code = a.joins_per_min_per_code;
  hc.md_code_ttl_s = a.md_code_ttl_s;

  // A file-size limit (RLIMIT_FSIZE) must surface as a write error, answered like a full disk, not kill the server.
  std::signal(SIGXFSZ, SIG_IGN);
  boost::asio::io_context io(1);
  Metrics metrics;
  Hub hub(io, *storage, metrics, key, hc);
  hub.start();
  HttpServer server(io, hub, opts, ssl);
  std::uint16_t bound = server.start();

  std::string scheme = opts.tls ? "https" : "http";
  std::string host = opts.address;
  if (host == "0.0.0.0" || host == "::") {
    auto lan = lan_addresses();
    host = lan.empty() ? host_name() : lan.front();
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string base = scheme + "://" + host + ":" + std::to_string(bound);
  std::cout << "\nDownbeat is listening on " << base << "  (data: " << fs::absolute(a.data_dir).string() << ")\n";
  if (!fingerprint.empty())
    std::cout << "TLS certificate SHA-256 fingerprint: " << fingerprint
              << "\n  (self-signed: phones will warn once; check the fingerprint, then accept)\n";
  if (opts.web_root.empty()) std::cout << "Web app not found: run `make build` (or pass --web-root)\n";
  for (const auto& row : storage->rooms()) std::cout << "\n" << codes_text(room_codes(*storage, row.id, false), base, !a.quiet_qr);
  std::cout << std::endl;
  if (!a.ready_file.empty()) {
    std::ofstream rf(a.ready_file + ".tmp");
    rf << boost::json::serialize(boost::json::object{{"port", bound}, {"url", scheme + "://" + (opts.address == "0.0.0.0" ? std::string("127.0.0.1") : host) + ":" + std::to_string(bound)}}) << "\n";
    rf.close();
    fs::rename(a.ready_file + ".tmp", a.ready_file);
  }
  spdlog::info("server.ready url={} web_root={}", base, opts.web_root.empty() ? "(none)" : opts.web_root);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int sig) {
    spdlog::info("server.stop signal={}", sig);
    server.stop();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"downbeatd — keeps a band locked together on a local network"};
  app.require_subcommand(1);

  ServeArgs sa;
  auto* serve_cmd = app.add_subcommand("serve", "run the server");
  serve_cmd->add_option("--data-dir", sa.data_dir, "data directory (SQLite database, keys, certificate)")->capture_default_str();
  serve_cmd->add_option("--listen", sa.listen, "ADDR:PORT to listen on")->capture_default_str();
  serve_cmd->add_option("--tls", sa.tls, "auto (self-signed, made on first run) | off (loopback only) | CERT:KEY")->capture_default_str();
  serve_cmd->add_option("--allow-origin", sa.allow_origins, "extra allowed WebSocket Origin (repeatable)");
  serve_cmd->add_option("--web-root", sa.web_root, "directory of the built web app (default: the repo's web/dist)");
  serve_cmd->add_option("--ready-file", sa.ready_file, "write {port,url} JSON here once listening");
  serve_cmd->add_flag("--log-json", sa.log_json, "log JSON lines");
  serve_cmd->add_option("--log-level", sa.log_level, "trace|debug|info|warn|error")->capture_default_str();
  serve_cmd->add_option("--lead-ms", sa.lead_ms, "tempo change lead time in ms")->check(CLI::Range(50, 5000))->capture_default_str();
  serve_cmd->add_option("--grace-s", sa.grace_s, "seconds a dropped participant stays listed as away")->check(CLI::Range(1, 86400))->capture_default_str();
  serve_cmd->add_option("--max-conns-per-ip", sa.max_conns_per_ip, "WebSocket connections allowed per address (IPv6: per /64), counted from the upgrade; beyond: HTTP 429")->check(CLI::Range(1, 100000))->capture_default_str();
  serve_cmd->add_option("--max-http-conns-per-ip", sa.max_http_conns_per_ip, "TCP connections per address not (yet) upgraded to a WebSocket (TLS handshakes, HTTP keep-alive); beyond: closed at once")->check(CLI::Range(1, 100000))->capture_default_str();
  serve_cmd->add_option("--handshake-timeout-s", sa.handshake_timeout_s, "seconds for the TLS handshake and then for the first HTTP request of a connection")->check(CLI::Range(1, 600))->capture_default_str();
  serve_cmd->add_option("--http-idle-timeout-s", sa.http_idle_timeout_s, "seconds a kept-alive HTTP connection may wait for its next request")->check(CLI::Range(1, 3600))->capture_default_str();
  serve_cmd->add_option("--max-participants", sa.max_participants, "participant records kept per room (long-gone ones are pruned first)")->check(CLI::Range(2, 100000))->capture_default_str();
  serve_cmd->add_option("--max-songs", sa.max_songs, "songs per room library")->check(CLI::Range(1, 100000))->capture_default_str();
  serve_cmd->add_option("--max-snapshot-bytes", sa.max_snapshot_bytes,
                        "bytes of song metadata and setlists a join snapshot may carry (song bodies are fetched on demand); a change beyond is refused")
      ->check(CLI::Range(std::size_t{16384}, std::size_t{1} << 30))
      ->capture_default_str();
  serve_cmd->add_option("--joins-per-min-per-address", sa.joins_per_min_per_address, "successful joins per minute from one address (burst the same)")->check(CLI::Range(1, 1000000))->capture_default_str();
  serve_cmd->add_option("--md-code-ttl-s", sa.md_code_ttl_s, "replace the MD join code this often (0 = only when rotated); MD consoles follow")->check(CLI::Range(0, 31536000))->capture_default_str();
  serve_cmd->add_option("--joins-per-min-per-code", sa.joins_per_min_per_code, "successful joins per minute with one join code (burst the same)")->check(CLI::Range(1, 1000000))->capture_default_str();
  serve_cmd->add_option("--max-send-queue", sa.max_send_queue, "frames queued per connection before it is dropped")->check(CLI::Range(16, 1000000))->capture_default_str();
  serve_cmd->add_option("--max-send-queue-bytes", sa.max_send_queue_bytes, "bytes queued per connection (behind the frame being written) before it is dropped")->check(CLI::Range(65536, 1 << 30))->capture_default_str();
  serve_cmd->add_option("--send-timeout-s", sa.send_timeout_s, "seconds one frame may take to leave before the connection is dropped as stuck")->check(CLI::Range(1, 3600))->capture_default_str();
  serve_cmd->add_option("--metrics-token", sa.metrics_token, "FILE|VALUE: /metrics then needs Authorization: Bearer <token>; without it /metrics answers loopback peers only");
  serve_cmd->add_flag("--no-qr", sa.quiet_qr, "print join URLs without QR codes");

  std::string data_dir = "./var";
  auto* room_cmd = app.add_subcommand("room", "manage rooms (works with or without a running server)");
  room_cmd->require_subcommand(1);
  std::string room_name;
  bool as_json = false;
  auto* create_cmd = room_cmd->add_subcommand("create", "create a room and print its join codes");
  create_cmd->add_option("NAME", room_name, "room name")->required();
  create_cmd->add_option("--data-dir", data_dir)->capture_default_str();
  create_cmd->add_flag("--json", as_json, "print {\"room\":ID,\"codes\":{...}} only");
  std::string room_id;
  bool rotate = false;
  auto* codes_cmd = room_cmd->add_subcommand("codes", "print (or --rotate) a room's join codes");
  codes_cmd->add_option("ROOM", room_id, "room id")->required();
  codes_cmd->add_option("--data-dir", data_dir)->capture_default_str();
  codes_cmd->add_flag("--rotate", rotate, "replace the codes (old QR codes stop working)");
  codes_cmd->add_flag("--json", as_json, "print JSON");
  auto* list_cmd = room_cmd->add_subcommand("list", "list rooms");
  list_cmd->add_option("--data-dir", data_dir)->capture_default_str();

  std::string backup_file;
  auto* backup_cmd = app.add_subcommand("backup", "online backup of the database (safe while serving)");
  backup_cmd->add_option("FILE", backup_file, "backup file to write")->required();
  backup_cmd->add_option("--data-dir", data_dir)->capture_default_str();

  auto* song_cmd = app.add_subcommand("song", "the song library (import needs the server stopped; the MD console imports while it runs)");
  song_cmd->require_subcommand(1);
  std::vector<std::string> song_files;
  std::string song_room;
  int import_max_songs = 2000;
  auto* import_cmd = song_cmd->add_subcommand("import", "import ChordPro, OpenLyrics, OpenSong or chords-over-lyrics text files into a room's library");
  import_cmd->add_option("FILE", song_files, "song files (.cho .chordpro .pro .crd, .xml, OpenSong, .txt)")->required();
  import_cmd->add_option("--room", song_room, "room id (`downbeatd room list`)")->required();
  import_cmd->add_option("--data-dir", data_dir)->capture_default_str();
  import_cmd->add_option("--max-songs", import_max_songs, "songs per room library (as serve --max-songs)")->check(CLI::Range(1, 100000))->capture_default_str();

  auto* setlist_cmd = app.add_subcommand("setlist", "setlists (works with or without a running server)");
  setlist_cmd->require_subcommand(1);
  std::string setlist_id, export_out;
  auto* export_cmd = setlist_cmd->add_subcommand("export", "write a setlist as one ChordPro bundle (songs separated by {new_song})");
  export_cmd->add_option("--room", song_room, "room id (`downbeatd room list`)")->required();
  export_cmd->add_option("--setlist", setlist_id, "setlist id (`downbeatd setlist list`)")->required();
  export_cmd->add_option("--data-dir", data_dir)->capture_default_str();
  export_cmd->add_option("-o,--output", export_out, "file to write (default: standard output)");
  auto* setlists_cmd = setlist_cmd->add_subcommand("list", "list a room's setlists");
  setlists_cmd->add_option("--room", song_room, "room id (`downbeatd room list`)")->required();
  setlists_cmd->add_option("--data-dir", data_dir)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (serve_cmd->parsed()) return serve(sa);
    if (create_cmd->parsed()) {
      auto storage = open_storage(data_dir);
      auto rc = create_room(*storage, room_name);
      std::cout << (as_json ? codes_json(rc) + "\n" : codes_text(rc, "https://HOST:PORT", false));
    } else if (codes_cmd->parsed()) {
      auto storage = open_storage(data_dir);
      auto rc = room_codes(*storage, room_id, rotate);
      std::cout << (as_json ? codes_json(rc) + "\n" : codes_text(rc, "https://HOST:PORT", false));
    } else if (list_cmd->parsed()) {
      auto storage = open_storage(data_dir);
      for (const auto& r : storage->rooms()) std::cout << r.id << "\t" << r.name << "\tseq " << r.seq << "\n";
    } else if (import_cmd->parsed()) {
      if (!fs::exists(fs::path(data_dir) / "downbeat.db")) throw std::invalid_argument("no Downbeat data in " + data_dir + ": pass the --data-dir the server uses");
      DataDirLock lock(data_dir, "the server is running on --data-dir " + data_dir +
                                     ": import in the MD console (Library, Import) or with POST /api/room/songs/import, or stop the server and run this again");
      auto storage = open_storage(data_dir);
      int failed = import_song_files(*storage, song_room, song_files, static_cast<std::size_t>(import_max_songs), std::cout, std::cerr);
      if (failed) {
        std::cerr << "downbeatd: " << failed << " of " << song_files.size() << " files were not imported (the others were)\n";
        return 1;
      }
    } else if (export_cmd->parsed()) {
      auto storage = open_storage(data_dir);
      std::string title;
      std::string bundle = export_setlist(*storage, song_room, setlist_id, title);
      if (export_out.empty()) {
        std::cout << bundle;
      } else {
        std::ofstream f(export_out, std::ios::binary);
        f << bundle;
        f.close();
        if (!f) throw std::runtime_error("cannot write " + export_out);
        std::cerr << "setlist \"" << title << "\" written to " << export_out << "\n";
      }
    } else if (setlists_cmd->parsed()) {
      auto storage = open_storage(data_dir);
      std::cout << list_setlists(*storage, song_room);
    } else if (backup_cmd->parsed()) {
      auto storage = open_storage(data_dir);
      storage->backup(backup_file);
      std::cout << "backup written to " << backup_file << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "downbeatd: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
