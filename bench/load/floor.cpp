// The machine's write floor: one write() of a 60-byte frame per delivery, on loopback TCP, at the
// rates the servers are driven at. No parsing, no framing, no allocation: what one syscall per
// delivered frame costs here. Each of N connections sends its room number (4 bytes, little endian)
// first; once all N are in, after 300 ms, frame k of room r is written to each of that room's
// connections at t0 + (k + r/R) / rate, open loop. A frame is "F<step>-<room>-<k>-<steady ns>" padded
// to 60 bytes. After the last frame it waits for the load tool to close connection 0, then exits.
// Usage: load_floor --ready-file F --conns N --rooms R --rate X --duration S [--step K]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "load_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // std::chrono::steady_clock on Linux: the load tool's clock
  return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void sleep_until_ns(std::int64_t t) {
  timespec ts{static_cast<time_t>(t / 1'000'000'000), static_cast<long>(t % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string ready;
  long conns = 0, rooms = 1, step = 1;
  double rate = 10, duration = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--ready-file") ready = v;
    else if (k == "--conns") conns = std::atol(v.c_str());
    else if (k == "--rooms") rooms = std::atol(v.c_str());
    else if (k == "--rate") rate = std::atof(v.c_str());
    else if (k == "--duration") duration = std::atof(v.c_str());
    else if (k == "--step") step = std::atol(v.c_str());
    else { std::fprintf(stderr, "load_floor: unknown option %s\n", k.c_str()); return 2; }
  }
  if (ready.empty() || conns <= 0 || rooms <= 0 || rate <= 0 || duration <= 0) {
    std::fprintf(stderr, "usage: load_floor --ready-file F --conns N --rooms R --rate X --duration S [--step K]\n");
    return 2;
  }
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(lfd, 4096) < 0) die("bind/listen on 127.0.0.1");
  socklen_t al = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &al);
  std::string tmp = ready + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) die("writing the ready file");
  std::fprintf(f, "{\"port\":%d}\n", ntohs(a.sin_port));
  std::fclose(f);
  std::rename(tmp.c_str(), ready.c_str());

  std::vector<std::vector<int>> by_room(static_cast<std::size_t>(rooms));
  for (long i = 0; i < conns; ++i) {
    int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) die("accept (is RLIMIT_NOFILE high enough?)");
    std::uint32_t r = 0;
    if (recv(fd, &r, sizeof r, MSG_WAITALL) != sizeof r || r >= static_cast<std::uint32_t>(rooms)) die("reading the room number");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    by_room[r].push_back(fd);
  }
  int first = by_room[0].empty() ? -1 : by_room[0][0];
  for (auto& v : by_room)
    if (first < 0 && !v.empty()) first = v[0];

  const long per_room = static_cast<long>(rate * duration);
  const std::int64_t period = static_cast<std::int64_t>(1e9 / rate);
  const std::int64_t t0 = now_ns() + 300'000'000;
  char frame[60];
  for (long k = 0; k < per_room; ++k) {
    for (long r = 0; r < rooms; ++r) {
      sleep_until_ns(t0 + k * period + r * period / rooms);
      std::int64_t t = now_ns();
      int n = std::snprintf(frame, sizeof frame, "F%ld-%ld-%ld-%lld", step, r, k, static_cast<long long>(t));
      std::memset(frame + n, ' ', sizeof frame - 1 - static_cast<std::size_t>(n));
      frame[sizeof frame - 1] = '\n';
      for (int fd : by_room[static_cast<std::size_t>(r)])
        if (write(fd, frame, sizeof frame) != static_cast<ssize_t>(sizeof frame)) die("write");
    }
  }
  char c;
  while (first >= 0 && read(first, &c, 1) > 0) {
  }
  return 0;
}
