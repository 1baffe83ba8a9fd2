#include "session_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "downbeat/error.hpp"

namespace downbeat::cli {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string{};
}

// flock on a sibling file: held for the whole read-refresh-write so two processes never spend one refresh token.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) {
    fd_ = ::open((path.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

fs::path default_session_path() {
  if (const char* p = std::getenv("DOWNBEAT_SESSION"); p && *p) return p;
  fs::path base;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = fs::path(h) / ".config";
  } else {
    base = ".";
  }
  return base / "downbeat" / "session.json";
}

std::optional<SavedSession> load_session(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  boost::system::error_code ec;
  auto v = json::parse(buf.str(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto server = parse_server_url(str(o, "server"));
  if (!server) return std::nullopt;
  SavedSession s;
  s.server = *server;
  s.session.tokens.token = str(o, "token");
  s.session.tokens.refresh_token = str(o, "refresh_token");
  if (auto* p = o.if_contains("participant"); p && p->is_object()) s.session.participant = p->as_object();
  if (auto* r = o.if_contains("room"); r && r->is_object()) s.session.room = r->as_object();
  s.device_id = str(o, "device_id");
  if (auto* t = o.if_contains("tls"); t && t->is_object()) {
    s.tls.pin_sha256 = str(t->as_object(), "pin_sha256");
    if (auto* i = t->as_object().if_contains("insecure"); i && i->is_bool()) s.tls.insecure = i->as_bool();
  }
  return s;
}

void save_session(const fs::path& path, const SavedSession& s) {
  const auto dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  json::object o{{"server", s.server.http_base()},
                 {"token", s.session.tokens.token},
                 {"refresh_token", s.session.tokens.refresh_token},
                 {"participant", s.session.participant},
                 {"room", s.session.room},
                 {"device_id", s.device_id},
                 {"tls", json::object{{"pin_sha256", s.tls.pin_sha256}, {"insecure", s.tls.insecure}}}};
  const std::string text = json::serialize(o) + "\n";
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error("io", "cannot write " + tmp + ": check the directory is writable");
  ::fchmod(fd, 0600);  // the umask or an older file must not widen it
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw Error("io", "cannot write " + tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, path);
}

std::string new_device_id() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string id = "cli-";
  for (int i = 0; i < 28; ++i) id += hex[rd() & 15u];
  return id;
}

Tokens refresh_shared(const fs::path& path, const Tokens& stale) {
  FileLock lock(path);
  auto saved = load_session(path);
  if (!saved) throw Error("unauthorized", "no session at " + path.string() + ": run `downbeat join` first");
  const auto& current = saved->session.tokens;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto exp = jwt_expiry(current.token);
  if (current.token != stale.token && exp && *exp - now > 60) return current;  // another process refreshed already
  auto fresh = refresh_session(saved->server, current.refresh_token, saved->tls);
  saved->session.tokens = fresh.tokens;
  if (!fresh.participant.empty()) saved->session.participant = fresh.participant;
  if (!fresh.room.empty()) saved->session.room = fresh.room;
  save_session(path, *saved);
  return fresh.tokens;
}

}  // namespace downbeat::cli
