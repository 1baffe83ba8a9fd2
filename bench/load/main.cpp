// bench/load: fan-out load against downbeatd and its peers, side by side in one run.
// N WebSocket connections (TLS or plain) to a server on loopback, in R rooms; one sender per room
// (more when the rate is above one connection's frame limit) publishes at a fixed open-loop rate;
// every receiver stamps arrival on the steady clock. Per step: delivered/s, publish → last
// recipient latency, missing frames, server CPU per delivered frame (/proc/PID/stat), RSS and RSS
// per connection. Servers: downbeatd (durable `cue`: the protocol has no live-only broadcast),
// a Node `ws` broadcast server (ws_server.mjs), nats-server over its websocket listener, and the
// write floor (load_floor: one write() per delivery). See REPORT.md.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// ---------------------------------------------------------------- server processes

struct ProcStat {
  double cpu_s = 0;  // utime + stime
  double rss_kib = 0;
};

ProcStat proc_stat(pid_t pid) {
  ProcStat s;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(st, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream in(line.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; in >> f; ++field) {
    if (field == 14) utime = std::stoull(f);
    if (field == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  s.cpu_s = double(utime + stime) / double(sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stod(line.substr(6));
  return s;
}

class Process {
 public:
  Process(std::vector<std::string> argv, fs::path log) : log_(std::move(log)) {
    pid_ = fork();
    if (pid_ < 0) fail("fork failed");
    if (pid_ == 0) {
      FILE* f = std::fopen(log_.c_str(), "w");
      if (f) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      execvp(a[0], a.data());
      std::fprintf(stderr, "cannot run %s: %s\n", a[0], std::strerror(errno));
      _exit(127);
    }
  }
  ~Process() { stop(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool alive() {
    if (pid_ <= 0) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  std::string log_tail() const {
    std::ifstream in(log_);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    return s.size() > 3000 ? s.substr(s.size() - 3000) : s;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Waits for a JSON ready file ({"port":N,...}); throws with the log when the process dies first.
  int wait_ready(const fs::path& ready, const std::string& what) {
    for (int i = 0; i < 1000; ++i) {
      if (fs::exists(ready)) {
        std::ifstream in(ready);
        std::string s((std::istreambuf_iterator<char>(in)), {});
        boost::system::error_code ec;
        auto v = json::parse(s, ec);
        if (!ec && v.is_object() && v.as_object().contains("port")) return static_cast<int>(v.at("port").to_number<std::int64_t>());
      }
      if (!alive()) fail(what + " exited before it was ready:\n" + log_tail());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    fail(what + " was not ready within 20 s:\n" + log_tail());
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
};

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) fail("cannot run " + cmd);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (pclose(p) != 0) fail("command failed: " + cmd + "\n" + out);
  return out;
}

int free_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return a.local_endpoint().port();
}

void wait_tcp(int port, Process& p, const std::string& what) {
  for (int i = 0; i < 500; ++i) {
    asio::io_context io;
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)), ec);
    if (!ec) return;
    if (!p.alive()) fail(what + " exited before it was ready:\n" + p.log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fail(what + " did not listen on 127.0.0.1:" + std::to_string(port) + " within 10 s:\n" + p.log_tail());
}

// ---------------------------------------------------------------- measurement steps

struct Slot {
  std::atomic<std::int64_t> sent{0};
  std::atomic<std::int64_t> last{0};
  std::atomic<std::int32_t> count{0};
};

struct Step {
  int id = 0;
  int rooms = 0;
  long per_room = 0;  // frames each room's senders publish in this step
  double rate = 0;
  std::int64_t t0 = 0;
  std::unique_ptr<Slot[]> slots;
  Slot& at(int room, long k) { return slots[static_cast<std::size_t>(room) * static_cast<std::size_t>(per_room) + static_cast<std::size_t>(k)]; }
};

enum class Kind { downbeatd, ws, nats, floor };

struct Shared {
  Kind kind{};
  bool tls = false;
  int port = 0;
  int senders_per_room = 1;
  std::atomic<Step*> step{nullptr};
  std::atomic<int> ready{0}, failed{0}, alive{0};
  std::mutex err_mu;
  std::string first_error;
  ssl::context tls_ctx{ssl::context::tls_client};
  Shared() { tls_ctx.set_verify_mode(ssl::verify_none); }
  void error(const std::string& e) {
    std::lock_guard lk(err_mu);
    if (first_error.empty()) first_error = e;
  }
};

void arrive(Shared& sh, long step, int room, long k, std::int64_t t, std::int64_t sent_hint = 0) {
  Step* s = sh.step.load(std::memory_order_acquire);
  if (!s || s->id != step || k < 0 || k >= s->per_room || room < 0 || room >= s->rooms) return;
  Slot& sl = s->at(room, k);
  if (sent_hint) {
    std::int64_t z = 0;
    sl.sent.compare_exchange_strong(z, sent_hint);
  }
  sl.count.fetch_add(1, std::memory_order_relaxed);
  std::int64_t prev = sl.last.load(std::memory_order_relaxed);
  while (prev < t && !sl.last.compare_exchange_weak(prev, t, std::memory_order_relaxed)) {
  }
}

template <class T>
bool parse_num(std::string_view& s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{}) return false;
  s.remove_prefix(static_cast<std::size_t>(p - s.data()));
  return true;
}

// "…"text":"L<step>-<k>"…" in a downbeatd event, a ws peer frame or a NATS payload.
void on_text(Shared& sh, int room, std::string_view frame, std::int64_t t) {
  for (;;) {
    auto at = frame.find(R"("text":"L)");
    if (at == std::string_view::npos) return;
    frame.remove_prefix(at + 9);
    long step = 0, k = 0;
    if (!parse_num(frame, step) || frame.empty() || frame[0] != '-') continue;
    frame.remove_prefix(1);
    if (!parse_num(frame, k)) continue;
    arrive(sh, step, room, k, t);
  }
}

// ---------------------------------------------------------------- clients

struct RoomInfo {
  std::string id;
  std::string md_code, viewer_code;
};

struct Setup {
  std::vector<RoomInfo> rooms;
  std::atomic<long> device{0};
};

template <class S>
awaitable<void> connect_lowest(S& s, int port) {
  co_await beast::get_lowest_layer(s).async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)), use_awaitable);
  beast::get_lowest_layer(s).set_option(tcp::no_delay(true));
}

// POST /auth/exchange {code,name,device_id} → token.
template <class S>
awaitable<std::string> exchange(S& s, const std::string& code, const std::string& name, long device) {
  http::request<http::string_body> req{http::verb::post, "/auth/exchange", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.body() = json::serialize(json::object{{"code", code}, {"name", name}, {"device_id", "load-" + std::to_string(getpid()) + "-" + std::to_string(device)}});
  req.prepare_payload();
  co_await http::async_write(s, req, use_awaitable);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  co_await http::async_read(s, b, res, use_awaitable);
  if (res.result_int() != 200) fail("join refused: HTTP " + std::to_string(res.result_int()) + " " + res.body());
  co_return std::string(json::parse(res.body()).at("token").as_string());
}

template <class WS>
class Client : public std::enable_shared_from_this<Client<WS>> {
 public:
  template <class... A>
  Client(Shared& sh, Setup& setup, int room, int sender, A&&... a) : sh_(sh), setup_(setup), room_(room), sender_(sender), ws_(std::forward<A>(a)...), timer_(ws_.get_executor()) {}

  // `self` keeps the client alive: the coroutine starts after the caller's pointer is gone.
  awaitable<void> run([[maybe_unused]] std::shared_ptr<Client> self) {
    ++sh_.alive;
    try {
      co_await open();
      ++sh_.ready;
    } catch (const std::exception& e) {
      sh_.error(std::string("connecting to 127.0.0.1:") + std::to_string(sh_.port) + ": " + e.what());
      ++sh_.failed;
      --sh_.alive;
      co_return;
    }
    try {
      co_await read_loop();
    } catch (const std::exception&) {
    }
    --sh_.alive;
  }

  // Publishes step `s` (this sender's share of it), then returns.
  awaitable<void> publish([[maybe_unused]] std::shared_ptr<Client> self, Step* s) {
    const std::int64_t period = static_cast<std::int64_t>(1e9 / s->rate);
    const std::int64_t offset = period * room_ / std::max(1, s->rooms);
    try {
      for (long k = sender_; k < s->per_room; k += sh_.senders_per_room) {
        std::int64_t due = s->t0 + offset + k * period;
        timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        co_await timer_.async_wait(use_awaitable);
        frame_.clear();
        std::string text = "L" + std::to_string(s->id) + "-" + std::to_string(k);
        std::string payload = R"({"type":"cue","id":"c)" + std::to_string(k) + R"(","data":{"text":")" + text + R"("}})";
        if (sh_.kind == Kind::nats)
          frame_ = "PUB room." + std::to_string(room_) + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
        else
          frame_ = std::move(payload);
        s->at(room_, k).sent.store(now_ns(), std::memory_order_release);
        co_await ws_.async_write(asio::buffer(frame_), use_awaitable);
      }
    } catch (const std::exception& e) {
      sh_.error(std::string("publishing: ") + e.what());
    }
  }

 private:
  awaitable<void> open() {
    std::string target = "/";
    if (sh_.kind == Kind::downbeatd) {
      const RoomInfo& r = setup_.rooms[static_cast<std::size_t>(room_)];
      long dev = ++setup_.device;
      std::string token;
      if (sh_.tls) {
        beast::ssl_stream<tcp::socket> s(ws_.get_executor(), sh_.tls_ctx);
        co_await connect_lowest(s, sh_.port);
        co_await s.async_handshake(ssl::stream_base::client, use_awaitable);
        token = co_await exchange(s, sender_ >= 0 ? r.md_code : r.viewer_code, sender_ >= 0 ? "MD" : "Screen", dev);
      } else {
        tcp::socket s(ws_.get_executor());
        co_await connect_lowest(s, sh_.port);
        token = co_await exchange(s, sender_ >= 0 ? r.md_code : r.viewer_code, sender_ >= 0 ? "MD" : "Screen", dev);
      }
      target = "/ws?token=" + token;
    } else if (sh_.kind == Kind::ws) {
      target = "/?room=" + std::to_string(room_);
    }
    co_await connect_lowest(ws_, sh_.port);
    if constexpr (!std::is_same_v<typename WS::next_layer_type, tcp::socket>)
      co_await ws_.next_layer().async_handshake(ssl::stream_base::client, use_awaitable);
    ws_.read_message_max(1 << 24);
    co_await ws_.async_handshake("127.0.0.1:" + std::to_string(sh_.port), target, use_awaitable);
    if (sh_.kind == Kind::nats) {
      // INFO first; then CONNECT, SUB (receivers only), and a PING whose PONG says the SUB is in.
      co_await ws_.async_read(buf_, use_awaitable);
      buf_.consume(buf_.size());
      std::string hello = R"(CONNECT {"verbose":false,"pedantic":false,"no_echo":true,"protocol":1})"
                          "\r\n";
      if (sender_ < 0) hello += "SUB room." + std::to_string(room_) + " 1\r\n";
      hello += "PING\r\n";
      ws_.text(true);
      co_await ws_.async_write(asio::buffer(hello), use_awaitable);
      for (;;) {
        co_await ws_.async_read(buf_, use_awaitable);
        std::string_view t(static_cast<const char*>(buf_.data().data()), buf_.size());
        bool pong = t.find("PONG") != std::string_view::npos;
        if (t.find("-ERR") != std::string_view::npos) fail("nats: " + std::string(t));
        buf_.consume(buf_.size());
        if (pong) break;
      }
    }
    ws_.text(true);
  }

  awaitable<void> read_loop() {
    for (;;) {
      co_await ws_.async_read(buf_, use_awaitable);
      std::int64_t t = now_ns();
      std::string_view text(static_cast<const char*>(buf_.data().data()), buf_.size());
      if (sender_ < 0) {
        if (sh_.kind == Kind::downbeatd) {
          if (text.starts_with(R"({"type":"cue")")) on_text(sh_, room_, text, t);
        } else {
          on_text(sh_, room_, text, t);
        }
        if (sh_.kind == Kind::nats && text.find("PING\r\n") != std::string_view::npos) {
          static const std::string pong = "PONG\r\n";
          co_await ws_.async_write(asio::buffer(pong), use_awaitable);
        }
      }
      buf_.consume(buf_.size());
    }
  }

  Shared& sh_;
  Setup& setup_;
  int room_;
  int sender_;  // -1: a receiver; else this sender's index in its room
  WS ws_;
  asio::steady_timer timer_;
  beast::flat_buffer buf_;
  std::string frame_;
};

// A write-floor receiver: raw TCP, 60-byte records "F<step>-<room>-<k>-<ns>".
class FloorClient : public std::enable_shared_from_this<FloorClient> {
 public:
  FloorClient(Shared& sh, asio::any_io_executor ex, int room) : sh_(sh), s_(ex), room_(room) {}
  awaitable<void> run([[maybe_unused]] std::shared_ptr<FloorClient> self) {
    ++sh_.alive;
    try {
      co_await connect_lowest(s_, sh_.port);
      std::uint32_t r = static_cast<std::uint32_t>(room_);
      co_await asio::async_write(s_, asio::buffer(&r, sizeof r), use_awaitable);
      ++sh_.ready;
    } catch (const std::exception& e) {
      sh_.error(std::string("connecting to the write floor: ") + e.what());
      ++sh_.failed;
      --sh_.alive;
      co_return;
    }
    try {
      for (;;) {
        std::size_t n = co_await s_.async_read_some(asio::buffer(buf_ + have_, sizeof buf_ - have_), use_awaitable);
        std::int64_t t = now_ns();
        have_ += n;
        std::size_t off = 0;
        for (; have_ - off >= 60; off += 60) {
          std::string_view rec(buf_ + off + 1, 58);
          long step = 0, k = 0;
          int room = 0;
          long long sent = 0;
          if (buf_[off] == 'F' && parse_num(rec, step) && !rec.empty() && (rec.remove_prefix(1), parse_num(rec, room)) && !rec.empty() &&
              (rec.remove_prefix(1), parse_num(rec, k)) && !rec.empty() && (rec.remove_prefix(1), parse_num(rec, sent)))
            arrive(sh_, step, room, k, t, sent);
        }
        std::memmove(buf_, buf_ + off, have_ - off);
        have_ -= off;
      }
    } catch (const std::exception&) {
    }
    --sh_.alive;
  }

 private:
  Shared& sh_;
  tcp::socket s_;
  int room_;
  char buf_[4096];
  std::size_t have_ = 0;
};

// ---------------------------------------------------------------- one server, one scenario

struct Options {
  std::string downbeatd, node = "node", ws_script, nats = "nats-server", floor, json_out, tls = "off";
  std::vector<std::string> servers{"downbeatd", "ws", "nats", "floor"};
  int rooms = 4, clients = 10, threads = 0;
  std::vector<double> rates{10};
  double duration = 5, drain = 1, max_p99_ms = 5;
  bool sweep = false, require_complete = false;
  std::string label;
};

struct Result {
  std::string server, scenario;
  bool tls = false;
  int rooms = 0, clients = 0, senders = 0;
  double rate = 0, duration = 0;
  long sent = 0, expected = 0, delivered = 0, missing = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // ms
  double cpu_us_per_frame = 0, rss_mib = 0, rss_per_conn_kib = 0;
  bool ok() const { return delivered > 0 && missing == 0; }
};

double pct(const std::vector<double>& s, double p) {
  if (s.empty()) return 0;
  return s[std::min(s.size() - 1, static_cast<std::size_t>(p / 100.0 * double(s.size())))];
}

class Run {
 public:
  Run(const Options& o, Kind kind, bool tls, fs::path dir) : o_(o), kind_(kind), tls_(tls), dir_(std::move(dir)) {}

  std::vector<Result> go() {
    fs::create_directories(dir_);
    sh_.kind = kind_;
    sh_.tls = tls_;
    double max_rate = *std::max_element(o_.rates.begin(), o_.rates.end());
    // downbeatd allows 50 frames/s per connection: above 40/s a room gets more senders, in rotation.
    sh_.senders_per_room = std::max(1, static_cast<int>(std::ceil(max_rate / 40.0)));
    if (sh_.senders_per_room >= o_.clients) fail("--clients must exceed the senders per room (" + std::to_string(sh_.senders_per_room) + ")");
    std::vector<Result> out;
    if (kind_ == Kind::floor) {
      for (double rate : o_.rates) {
        out.push_back(floor_step(rate, static_cast<int>(out.size()) + 1));
        if (o_.sweep && !passes(out.back())) break;
      }
      return out;
    }
    start_server();
    ProcStat before = proc_stat(server_->pid());
    start_io();
    connect_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    ProcStat idle = proc_stat(server_->pid());
    double per_conn = (idle.rss_kib - before.rss_kib) / double(o_.rooms * o_.clients);
    int id = 0;
    for (double rate : o_.rates) {
      Result r = step(rate, ++id);
      r.rss_per_conn_kib = per_conn;
      out.push_back(r);
      if (o_.sweep && !passes(r)) break;
    }
    if (o_.rates.empty()) {
      Result r = base();
      r.rss_mib = idle.rss_kib / 1024;
      r.rss_per_conn_kib = per_conn;
      out.push_back(r);
    }
    server_->stop();
    stop_io();
    return out;
  }

  bool passes(const Result& r) const { return r.ok() && r.p99 <= o_.max_p99_ms; }

 private:
  Result base() const {
    Result r;
    r.server = kind_ == Kind::downbeatd ? "downbeatd" : kind_ == Kind::ws ? "ws" : kind_ == Kind::nats ? "nats" : "floor";
    r.scenario = o_.label;
    r.tls = tls_;
    r.rooms = o_.rooms;
    r.clients = o_.clients;
    r.senders = sh_.senders_per_room;
    r.duration = o_.duration;
    return r;
  }

  void make_cert() {
    if (fs::exists(dir_ / "cert.pem")) return;
    run_capture("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 -keyout '" + (dir_ / "key.pem").string() +
                "' -out '" + (dir_ / "cert.pem").string() + "' 2>&1");
  }

  void start_server() {
    fs::path ready = dir_ / "ready.json";
    fs::remove(ready);
    if (kind_ == Kind::downbeatd) {
      if (o_.downbeatd.empty()) fail("--downbeatd PATH is needed to run downbeatd");
      fs::path data = dir_ / "data";
      for (int i = 0; i < o_.rooms; ++i) {
        auto v = json::parse(run_capture("'" + o_.downbeatd + "' room create 'Load " + std::to_string(i) + "' --data-dir '" + data.string() + "' --json"));
        const auto& codes = v.at("codes").as_object();
        setup_.rooms.push_back({std::string(v.at("room").as_string()), std::string(codes.at("md").as_string()), std::string(codes.at("viewer").as_string())});
      }
      std::string big = "1000000";
      server_ = std::make_unique<Process>(
          std::vector<std::string>{o_.downbeatd, "serve", "--data-dir", data.string(), "--listen", "127.0.0.1:0", "--ready-file", ready.string(), "--no-qr",
                                   "--tls", tls_ ? "auto" : "off", "--joins-per-min-per-address", big, "--joins-per-min-per-code", big,
                                   "--max-conns-per-ip", "100000", "--max-http-conns-per-ip", "100000", "--max-participants", "100000"},
          dir_ / "server.log");
      sh_.port = server_->wait_ready(ready, "downbeatd");
    } else if (kind_ == Kind::ws) {
      std::vector<std::string> argv{o_.node, o_.ws_script, "--ready-file", ready.string()};
      if (tls_) {
        make_cert();
        argv.insert(argv.end(), {"--cert", (dir_ / "cert.pem").string(), "--key", (dir_ / "key.pem").string()});
      }
      server_ = std::make_unique<Process>(argv, dir_ / "server.log");
      sh_.port = server_->wait_ready(ready, "the Node ws server");
    } else {
      sh_.port = free_port();
      std::ofstream conf(dir_ / "nats.conf");
      conf << "listen: 127.0.0.1:" << free_port() << "\nmax_payload: 65536\nwebsocket {\n  listen: \"127.0.0.1:" << sh_.port << "\"\n  compression: false\n";
      if (tls_) {
        make_cert();
        conf << "  tls { cert_file: \"" << (dir_ / "cert.pem").string() << "\"\n  key_file: \"" << (dir_ / "key.pem").string() << "\" }\n";
      } else {
        conf << "  no_tls: true\n";
      }
      conf << "}\n";
      conf.close();
      server_ = std::make_unique<Process>(std::vector<std::string>{o_.nats, "-c", (dir_ / "nats.conf").string()}, dir_ / "server.log");
      wait_tcp(sh_.port, *server_, "nats-server");
    }
  }

  void start_io() {
    int n = o_.threads > 0 ? o_.threads : std::max(1u, std::thread::hardware_concurrency());
    for (int i = 0; i < n; ++i) ios_.push_back(std::make_unique<asio::io_context>(1));
    for (auto& io : ios_) {
      guards_.emplace_back(asio::make_work_guard(*io));
      threads_.emplace_back([&io] { io->run(); });
    }
  }

  void stop_io() {
    for (int i = 0; i < 300 && sh_.alive > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    guards_.clear();
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    publishers_.clear();
    ios_.clear();
  }

  template <class WS, class... A>
  void spawn_client(asio::io_context& io, int room, int sender, A&&... a) {
    auto c = std::make_shared<Client<WS>>(sh_, setup_, room, sender, std::forward<A>(a)...);
    if (sender >= 0) publishers_.push_back({&io, [c](Step* s) { return c->publish(c, s); }});
    asio::co_spawn(io, c->run(c), asio::detached);
  }

  void spawn_floor(asio::io_context& io, int room) {
    auto c = std::make_shared<FloorClient>(sh_, io.get_executor(), room);
    asio::co_spawn(io, c->run(c), asio::detached);
  }

  // Connects rooms × clients in batches (a handshake storm measures nothing), senders first.
  void connect_all() {
    int total = o_.rooms * o_.clients, spawned = 0, batch = 100;
    std::size_t next_io = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (int i = 0; i < total; ++i) {
      int room = i % o_.rooms, idx = i / o_.rooms;
      int sender = idx < sh_.senders_per_room ? idx : -1;
      asio::io_context& io = *ios_[next_io++ % ios_.size()];
      if (kind_ == Kind::floor)
        spawn_floor(io, room);
      else if (tls_)
        spawn_client<websocket::stream<beast::ssl_stream<tcp::socket>>>(io, room, sender, io.get_executor(), sh_.tls_ctx);
      else
        spawn_client<websocket::stream<tcp::socket>>(io, room, sender, io.get_executor());
      ++spawned;
      if (spawned % batch == 0 || spawned == total) {
        while (sh_.ready + sh_.failed < spawned) {
          if (sh_.failed > 0 || std::chrono::steady_clock::now() > deadline) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (sh_.failed > 0 || (server_ && !server_->alive())) {
          std::lock_guard lk(sh_.err_mu);
          fail(sh_.first_error + (server_ && !server_->alive() ? "\nserver log:\n" + server_->log_tail() : ""));
        }
        if (std::chrono::steady_clock::now() > deadline) fail("connecting " + std::to_string(total) + " clients took over 120 s");
      }
    }
  }

  Result collect(Step& s, ProcStat a, ProcStat b, pid_t pid) {
    (void)pid;
    Result r = base();
    r.rate = s.rate;
    int recv_per_room = kind_ == Kind::floor ? o_.clients : o_.clients - sh_.senders_per_room;
    std::vector<double> lat;
    for (int room = 0; room < s.rooms; ++room)
      for (long k = 0; k < s.per_room; ++k) {
        Slot& sl = s.at(room, k);
        std::int64_t sent = sl.sent.load();
        int n = sl.count.load();
        if (!sent) continue;
        ++r.sent;
        r.expected += recv_per_room;
        r.delivered += n;
        if (n < recv_per_room)
          r.missing += recv_per_room - n;
        else
          lat.push_back(double(sl.last.load() - sent) / 1e6);
      }
    if (kind_ == Kind::floor) {  // the floor stamps its frames: one it wrote that no-one read is missing too
      long want = s.per_room * s.rooms;
      r.missing += (want - r.sent) * recv_per_room;
      r.expected += (want - r.sent) * recv_per_room;
      r.sent = want;
    }
    std::sort(lat.begin(), lat.end());
    r.p50 = pct(lat, 50);
    r.p99 = pct(lat, 99);
    r.p999 = pct(lat, 99.9);
    r.max = lat.empty() ? 0 : lat.back();
    r.cpu_us_per_frame = r.delivered ? (b.cpu_s - a.cpu_s) * 1e6 / double(r.delivered) : 0;
    r.rss_mib = b.rss_kib / 1024;
    return r;
  }

  Step* new_step(double rate, int id) {
    auto s = std::make_unique<Step>();
    s->id = id;
    s->rooms = o_.rooms;
    s->rate = rate;
    s->per_room = std::max(1L, static_cast<long>(rate * o_.duration));
    s->slots = std::make_unique<Slot[]>(static_cast<std::size_t>(s->rooms) * static_cast<std::size_t>(s->per_room));
    steps_.push_back(std::move(s));
    return steps_.back().get();
  }

  Result step(double rate, int id) {
    Step* s = new_step(rate, id);
    s->t0 = now_ns() + 200'000'000;
    sh_.step.store(s, std::memory_order_release);
    ProcStat a = proc_stat(server_->pid());
    for (auto& p : publishers_) asio::co_spawn(*p.io, p.start(s), asio::detached);
    std::this_thread::sleep_for(std::chrono::duration<double>(0.2 + o_.duration + o_.drain));
    ProcStat b = proc_stat(server_->pid());
    if (!server_->alive()) fail("the server died during the step:\n" + server_->log_tail());
    return collect(*s, a, b, server_->pid());
  }

  Result floor_step(double rate, int id) {
    if (o_.floor.empty()) fail("--floor PATH (load_floor) is needed for the write floor");
    fs::path ready = dir_ / "ready.json";
    fs::remove(ready);
    int conns = o_.rooms * o_.clients;
    server_ = std::make_unique<Process>(std::vector<std::string>{o_.floor, "--ready-file", ready.string(), "--conns", std::to_string(conns), "--rooms",
                                                                 std::to_string(o_.rooms), "--rate", std::to_string(rate), "--duration",
                                                                 std::to_string(o_.duration), "--step", std::to_string(id)},
                                        dir_ / "server.log");
    sh_.port = server_->wait_ready(ready, "load_floor");
    Step* s = new_step(rate, id);
    sh_.step.store(s, std::memory_order_release);
    sh_.ready = 0;
    sh_.failed = 0;
    start_io();
    connect_all();
    ProcStat a = proc_stat(server_->pid());  // the floor starts writing 300 ms after the last connection
    std::this_thread::sleep_for(std::chrono::duration<double>(0.3 + o_.duration + o_.drain));
    ProcStat b = proc_stat(server_->pid());
    Result r = collect(*s, a, b, server_->pid());
    r.senders = 0;
    server_->stop();
    stop_io();
    return r;
  }

  struct Publisher {
    asio::io_context* io;
    std::function<awaitable<void>(Step*)> start;
  };

  const Options& o_;
  Kind kind_;
  bool tls_;
  fs::path dir_;
  Shared sh_;
  Setup setup_;
  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::vector<Publisher> publishers_;
  std::vector<std::unique_ptr<Step>> steps_;
};

void raise_fd_limit(long need) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t want = static_cast<rlim_t>(need);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min(rl.rlim_max, std::max(want, rl.rlim_cur));
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < want)
    fail("the open-file limit is " + std::to_string(rl.rlim_cur) + " (hard " + std::to_string(rl.rlim_max) + "), this run needs about " + std::to_string(need) +
         ": raise it (ulimit -Hn / limits.conf) or use fewer --rooms × --clients");
}

std::string fmt(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench/load: fan-out load against downbeatd, a Node ws server, NATS and the write floor, side by side (REPORT.md)"};
  app.add_option("--downbeatd", o.downbeatd, "downbeatd binary");
  app.add_option("--node", o.node, "node binary (for the ws peer)")->capture_default_str();
  app.add_option("--ws-server", o.ws_script, "the ws peer script (bench/load/ws_server.mjs)");
  app.add_option("--nats-server", o.nats, "nats-server binary")->capture_default_str();
  app.add_option("--floor", o.floor, "load_floor binary (default: next to this one)");
  app.add_option("--servers", o.servers, "which to run, in order: downbeatd ws nats floor")->delimiter(',')->capture_default_str();
  app.add_option("--rooms", o.rooms, "rooms")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--clients", o.clients, "connections per room, senders included")->check(CLI::Range(2, 20000))->capture_default_str();
  app.add_option("--rates", o.rates, "frames per second per room, one step each (empty: idle connections only)")->delimiter(',')->check(CLI::Range(0.1, 2000.0));
  app.add_option("--duration", o.duration, "seconds each step publishes")->check(CLI::Range(0.5, 60.0))->capture_default_str();
  app.add_option("--drain", o.drain, "seconds to wait for late frames after a step")->check(CLI::Range(0.1, 10.0))->capture_default_str();
  app.add_option("--tls", o.tls, "off | on | both")->check(CLI::IsMember({"off", "on", "both"}))->capture_default_str();
  app.add_flag("--sweep", o.sweep, "stop a server's steps at the first that misses a frame or has p99 above --max-p99-ms; report the highest passing rate");
  app.add_option("--max-p99-ms", o.max_p99_ms, "the sweep's p99 bound")->capture_default_str();
  app.add_flag("--require-complete", o.require_complete, "exit 1 when any step misses a frame (the smoke test)");
  app.add_option("--threads", o.threads, "io_context threads (default: one per core)");
  app.add_option("--label", o.label, "scenario name in the output");
  app.add_option("--json", o.json_out, "append one JSON line per step to FILE");
  bool idle_only = false;
  app.add_flag("--idle", idle_only, "no publishing: connections and RSS only");
  CLI11_PARSE(app, argc, argv);
  if (idle_only) o.rates.clear();
  std::sort(o.rates.begin(), o.rates.end());
  std::signal(SIGPIPE, SIG_IGN);

  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  fs::path here = n > 0 ? fs::path(std::string(self, static_cast<std::size_t>(n))).parent_path() : fs::current_path();
  if (o.floor.empty()) o.floor = (here / "load_floor").string();
#ifdef LOAD_SOURCE_DIR
  if (o.ws_script.empty()) o.ws_script = std::string(LOAD_SOURCE_DIR) + "/ws_server.mjs";
#endif

  std::vector<Result> all;
  int bad = 0;
  fs::path tmp = fs::temp_directory_path() / ("downbeat-load-" + std::to_string(getpid()));
  try {
    raise_fd_limit(long(o.rooms) * o.clients + 256);
    std::vector<bool> tls_modes = o.tls == "both" ? std::vector<bool>{false, true} : std::vector<bool>{o.tls == "on"};
    std::printf("%-9s %-4s %5s %7s %7s %10s %8s %8s %8s %8s %8s %10s %8s %10s\n", "server", "tls", "rooms", "clients", "rate/s", "deliv/s", "p50 ms",
                "p99 ms", "p99.9 ms", "max ms", "missing", "cpu us/fr", "RSS MiB", "KiB/conn");
    for (bool tls : tls_modes)
      for (const auto& name : o.servers) {
        Kind k;
        if (name == "downbeatd") k = Kind::downbeatd;
        else if (name == "ws") k = Kind::ws;
        else if (name == "nats") k = Kind::nats;
        else if (name == "floor") k = Kind::floor;
        else fail("unknown server " + name + ": use downbeatd, ws, nats or floor");
        if (k == Kind::floor && (tls || o.rates.empty())) continue;  // the floor is plain write()s of a fan-out
        Run run(o, k, tls, tmp / (name + (tls ? "-tls" : "")));
        double best = 0;
        for (const Result& r : run.go()) {
          std::printf("%-9s %-4s %5d %7d %7s %10s %8s %8s %8s %8s %8ld %10s %8s %10s\n", r.server.c_str(), r.tls ? "on" : "off", r.rooms, r.clients,
                      fmt(r.rate, 1).c_str(), fmt(double(r.delivered) / r.duration, 0).c_str(), fmt(r.p50, 3).c_str(), fmt(r.p99, 3).c_str(),
                      fmt(r.p999, 3).c_str(), fmt(r.max, 3).c_str(), r.missing, fmt(r.cpu_us_per_frame, 2).c_str(), fmt(r.rss_mib, 1).c_str(),
                      r.server == "floor" ? "" : fmt(r.rss_per_conn_kib, 1).c_str());
          std::fflush(stdout);
          if (!o.rates.empty() && r.delivered == 0) ++bad;
          if (o.require_complete && !o.rates.empty() && r.missing > 0) ++bad;
          if (run.passes(r)) best = std::max(best, r.rate);
          all.push_back(r);
        }
        if (o.sweep) std::printf("%-9s %-4s highest rate with p99 <= %.1f ms and nothing missing: %s/s per room\n", name.c_str(), tls ? "on" : "off", o.max_p99_ms, fmt(best, 1).c_str());
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load: %s\n", e.what());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    return 1;
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!o.json_out.empty()) {
    std::ofstream out(o.json_out, std::ios::app);
    for (const auto& r : all)
      out << json::serialize(json::object{{"scenario", r.scenario}, {"server", r.server}, {"tls", r.tls}, {"rooms", r.rooms}, {"clients", r.clients},
                                          {"senders_per_room", r.senders}, {"rate", r.rate}, {"duration_s", r.duration}, {"sent", r.sent},
                                          {"expected", r.expected}, {"delivered", r.delivered}, {"missing", r.missing}, {"p50_ms", r.p50},
                                          {"p99_ms", r.p99}, {"p999_ms", r.p999}, {"max_ms", r.max}, {"cpu_us_per_frame", r.cpu_us_per_frame},
                                          {"rss_mib", r.rss_mib}, {"rss_per_conn_kib", r.rss_per_conn_kib}})
          << "\n";
  }
  if (bad) std::fprintf(stderr, "load: FAIL: %d step(s) delivered nothing%s\n", bad, o.require_complete ? " or missed frames" : "");
  return bad ? 1 : 0;
}
