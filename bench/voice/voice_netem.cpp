// voice_netem: the impaired link of the voice benchmark, in userspace (this kernel has no netem).
//
// Opens one TUN device in each of two network namespaces (made by the benchmark) and forwards IP
// packets between them, each direction on its own: a packet is dropped with probability --loss,
// otherwise delivered after --delay-ms ± --jitter-ms (uniform; packets may reorder, as with netem's
// jitter). Commands on stdin, one per line, each answered on stdout:
//   set DELAY_MS JITTER_MS LOSS   change the impairment
//   cut [udp]                     drop everything (or only UDP: media, not the signalling TCP)
//   restore                       stop dropping
//   stats                         "stats a2b=N b2a=N dropped=N cut=N queued=N"
// It exits when stdin closes (its parent is gone) or after --max-seconds, so it never outlives a run.
//
//   voice_netem --ns-a /run/netns/A --dev-a tvA --ns-b /run/netns/B --dev-b tvB [--delay-ms 5 --jitter-ms 5 --loss 0.01]
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string ns_a, ns_b, dev_a, dev_b;
  double delay_ms = 0, jitter_ms = 0, loss = 0;
  double max_seconds = 3600;
  unsigned seed = 1;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "voice_netem: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

// A TUN device made inside the namespace at ns_path; the fd keeps working from any namespace.
int open_tun(const std::string& ns_path, const std::string& name, int home_ns) {
  const int ns = ::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) die("open " + ns_path);
  if (::setns(ns, CLONE_NEWNET) != 0) die("setns " + ns_path);
  ::close(ns);
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) die("TUNSETIFF " + name);
  if (::setns(home_ns, CLONE_NEWNET) != 0) die("setns back");
  return fd;
}

struct Pending {
  Clock::time_point due;
  std::uint64_t seq;
  int out_fd;
  std::vector<unsigned char> data;
  bool operator>(const Pending& o) const { return due != o.due ? due > o.due : seq > o.seq; }
};

struct Link {
  double delay_ms, jitter_ms, loss;
  bool cut = false, cut_udp_only = false;
  std::uint64_t a2b = 0, b2a = 0, dropped = 0, cut_dropped = 0, write_errors = 0;
};

bool is_udp(const unsigned char* p, ssize_t n) {
  if (n < 1) return false;
  const int version = p[0] >> 4;
  if (version == 4 && n >= 20) return p[9] == 17;
  if (version == 6 && n >= 40) return p[6] == 17;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "voice_netem: %s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--ns-a") o.ns_a = next();
    else if (a == "--ns-b") o.ns_b = next();
    else if (a == "--dev-a") o.dev_a = next();
    else if (a == "--dev-b") o.dev_b = next();
    else if (a == "--delay-ms") o.delay_ms = std::stod(next());
    else if (a == "--jitter-ms") o.jitter_ms = std::stod(next());
    else if (a == "--loss") o.loss = std::stod(next());
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--max-seconds") o.max_seconds = std::stod(next());
    else { std::fprintf(stderr, "voice_netem: unknown option %s (see the header of voice_netem.cpp)\n", a.c_str()); return 2; }
  }
  if (o.ns_a.empty() || o.ns_b.empty() || o.dev_a.empty() || o.dev_b.empty()) {
    std::fprintf(stderr, "usage: voice_netem --ns-a PATH --dev-a NAME --ns-b PATH --dev-b NAME [--delay-ms D --jitter-ms J --loss P]\n");
    return 2;
  }
  const int home_ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ns < 0) die("open /proc/self/ns/net");
  const int fd_a = open_tun(o.ns_a, o.dev_a, home_ns);
  const int fd_b = open_tun(o.ns_b, o.dev_b, home_ns);
  ::fcntl(0, F_SETFL, ::fcntl(0, F_GETFL) | O_NONBLOCK);

  Link link{o.delay_ms, o.jitter_ms, o.loss};
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> queue;
  std::uint64_t seq = 0;
  constexpr std::size_t kMaxQueued = 20000;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.max_seconds));
  std::string input;
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<unsigned char> buf(65536);
  for (;;) {
    auto now = Clock::now();
    if (now > deadline) { std::fprintf(stderr, "voice_netem: --max-seconds reached\n"); break; }
    while (!queue.empty() && queue.top().due <= now) {
      const auto& p = queue.top();
      if (::write(p.out_fd, p.data.data(), p.data.size()) < 0) link.write_errors++;
      queue.pop();
    }
    timespec ts{0, 50'000'000};
    if (!queue.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(queue.top().due - now).count();
      if (wait < 50'000'000) ts = {0, std::max<long>(0, static_cast<long>(wait))};
    }
    pollfd fds[3] = {{fd_a, POLLIN, 0}, {fd_b, POLLIN, 0}, {0, POLLIN, 0}};
    const int r = ::ppoll(fds, 3, &ts, nullptr);
    if (r < 0) { if (errno == EINTR) continue; die("ppoll"); }
    for (int side = 0; side < 2; side++) {
      if (!(fds[side].revents & POLLIN)) continue;
      for (int burst = 0; burst < 64; burst++) {  // bounded per wake-up, so the other side and stdin get their turn
        const ssize_t n = ::read(fds[side].fd, buf.data(), buf.size());
        if (n <= 0) break;
        (side == 0 ? link.a2b : link.b2a)++;
        if (link.cut && (!link.cut_udp_only || is_udp(buf.data(), n))) { link.cut_dropped++; continue; }
        if (uni(rng) < link.loss || queue.size() >= kMaxQueued) { link.dropped++; continue; }
        const double d = std::max(0.0, link.delay_ms + (2 * uni(rng) - 1) * link.jitter_ms);
        const auto due = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(d));
        queue.push({due, seq++, side == 0 ? fd_b : fd_a, std::vector<unsigned char>(buf.begin(), buf.begin() + n)});
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      char cb[512];
      const ssize_t n = ::read(0, cb, sizeof cb);
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;  // parent gone
      if (n > 0) input.append(cb, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = input.find('\n')) != std::string::npos) {
        std::istringstream line(input.substr(0, nl));
        input.erase(0, nl + 1);
        std::string cmd;
        line >> cmd;
        if (cmd == "set") {
          line >> link.delay_ms >> link.jitter_ms >> link.loss;
          std::printf("ok set %g %g %g\n", link.delay_ms, link.jitter_ms, link.loss);
        } else if (cmd == "cut") {
          std::string what;
          line >> what;
          link.cut = true;
          link.cut_udp_only = what == "udp";
          std::printf("ok cut%s\n", link.cut_udp_only ? " udp" : "");
        } else if (cmd == "restore") {
          link.cut = false;
          std::printf("ok restore\n");
        } else if (cmd == "stats") {
          std::printf("stats a2b=%llu b2a=%llu dropped=%llu cut=%llu queued=%zu write_errors=%llu\n",
                      static_cast<unsigned long long>(link.a2b), static_cast<unsigned long long>(link.b2a),
                      static_cast<unsigned long long>(link.dropped), static_cast<unsigned long long>(link.cut_dropped), queue.size(),
                      static_cast<unsigned long long>(link.write_errors));
        } else if (cmd == "quit") {
          std::printf("ok quit\n");
          std::fflush(stdout);
          return 0;
        } else if (!cmd.empty()) {
          std::printf("error unknown command %s\n", cmd.c_str());
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
