#include "server/storage/storage.hpp"

#include <sys/stat.h>

#include <chrono>
#include <stdexcept>
#include <string_view>

namespace downbeat::server {
namespace json = boost::json;

namespace {
// Small RAII wrapper: binds by position, steps, reads columns.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, std::string_view s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("sqlite step failed: ") + sqlite3_errmsg(db_));
  }
  void run() { while (step()) {} }
  std::string text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : std::string();
  }
  std::int64_t i64(int col) { return sqlite3_column_int64(st_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

class Tx {
 public:
  explicit Tx(sqlite3* db) : db_(db) { exec("BEGIN IMMEDIATE"); }
  ~Tx() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec("COMMIT");
    done_ = true;
  }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(std::string("sqlite: ") + sql + ": " + msg);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};
}  // namespace

Storage::Storage(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open database " + path + ": " + msg);
  }
  // SQLite gives -wal and -shm the main file's mode, so 0600 here covers all three.
  if (path != ":memory:" && !path.empty()) ::chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  // FULL: an acknowledged change survives power loss, not just a process crash (docs/decisions/0001).
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON");
  migrate();
}

Storage::~Storage() { sqlite3_close(db_); }

void Storage::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(std::string("sqlite: ") + msg);
  }
}

void Storage::migrate() {
  Stmt v(db_, "PRAGMA user_version");
  v.step();
  std::int64_t version = v.i64(0);
  if (version < 1) {
    Tx tx(db_);
    exec(R"(
      CREATE TABLE rooms(id TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL, seq INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE entities(room TEXT NOT NULL REFERENCES rooms(id), kind TEXT NOT NULL, id TEXT NOT NULL,
                            ord INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY(room, kind, id));
      CREATE TABLE events(room TEXT NOT NULL REFERENCES rooms(id), seq INTEGER NOT NULL, type TEXT NOT NULL,
                          ts INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY(room, seq));
      CREATE TABLE join_codes(code TEXT PRIMARY KEY, room TEXT NOT NULL REFERENCES rooms(id), role TEXT NOT NULL,
                              created INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE refresh_tokens(hash TEXT PRIMARY KEY, participant TEXT NOT NULL, room TEXT NOT NULL, family TEXT NOT NULL,
                                  used INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL);
      CREATE INDEX refresh_by_family ON refresh_tokens(family);
      CREATE INDEX refresh_by_participant ON refresh_tokens(participant);
      PRAGMA user_version = 1;
    )");
    tx.commit();
  }
  if (version < 2) {
    // Refresh-token expiry moves from the monotonic clock (restarts at every reboot) to Unix time.
    using namespace std::chrono;
    std::int64_t shift = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count() -
                         duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
    Tx tx(db_);
    Stmt u(db_, "UPDATE refresh_tokens SET expires = expires + ?");
    u.bind(1, shift).run();
    exec(R"(
      CREATE TABLE server_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
      PRAGMA user_version = 2;
    )");
    tx.commit();
  }
}

bool Storage::family_revoked(const std::string& family) {
  Stmt s(db_, "SELECT 1 FROM refresh_tokens WHERE family = ? AND revoked = 1 LIMIT 1");
  s.bind(1, family);
  return s.step();
}

void Storage::delete_participants(const std::string& room, const std::vector<std::string>& ids) {
  Tx tx(db_);
  for (const auto& id : ids) {
    Stmt e(db_, "DELETE FROM entities WHERE room = ? AND kind = 'participant' AND id = ?");
    e.bind(1, room).bind(2, id).run();
    Stmt r(db_, "DELETE FROM refresh_tokens WHERE participant = ?");
    r.bind(1, id).run();
  }
  tx.commit();
}

std::optional<std::string> Storage::server_meta(const std::string& key) {
  Stmt s(db_, "SELECT value FROM server_meta WHERE key = ?");
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

void Storage::set_server_meta(const std::string& key, const std::string& value) {
  Stmt s(db_, "INSERT INTO server_meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  s.bind(1, key).bind(2, value).run();
}

std::vector<RoomRow> Storage::rooms() {
  std::vector<RoomRow> out;
  Stmt s(db_, "SELECT id, name, seq FROM rooms ORDER BY created");
  while (s.step()) out.push_back({s.text(0), s.text(1), s.i64(2)});
  return out;
}

std::optional<RoomRow> Storage::room(const std::string& id) {
  Stmt s(db_, "SELECT id, name, seq FROM rooms WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return RoomRow{s.text(0), s.text(1), s.i64(2)};
}

void Storage::create_room(const std::string& id, const std::string& name, std::int64_t now_us) {
  Stmt s(db_, "INSERT INTO rooms(id, name, created, seq) VALUES(?, ?, ?, 0)");
  s.bind(1, id).bind(2, name).bind(3, now_us).run();
}

void Storage::load_room(core::Room& room) {
  Stmt s(db_, "SELECT kind, id, json FROM entities WHERE room = ? ORDER BY ord, id");
  s.bind(1, room.id());
  while (s.step()) {
    json::value v = json::parse(s.text(2));
    room.apply_mutation(core::Mutation{s.text(0), s.text(1), v.as_object(), false});
  }
  if (auto row = this->room(room.id())) room.set_seq(row->seq);
}

void Storage::put_entity(const std::string& room, const std::string& kind, const std::string& id, const json::object& value) {
  Stmt s(db_, "INSERT INTO entities(room, kind, id, ord, json) VALUES(?, ?, ?, (SELECT seq FROM rooms WHERE id = ?), ?) "
              "ON CONFLICT(room, kind, id) DO UPDATE SET json = excluded.json");
  s.bind(1, room).bind(2, kind).bind(3, id).bind(4, room).bind(5, json::serialize(value)).run();
}

void Storage::commit(const std::string& room, std::int64_t seq, std::int64_t ts, const core::Outcome& outcome,
                     const std::string& event_data_json) {
  Tx tx(db_);
  for (const auto& m : outcome.mutations) {
    if (m.ephemeral) continue;
    if (m.kind == "revoke_tokens") {
      Stmt s(db_, "UPDATE refresh_tokens SET revoked = 1 WHERE participant = ?");
      s.bind(1, m.id).run();
    } else if (m.value) {
      Stmt s(db_, "INSERT INTO entities(room, kind, id, ord, json) VALUES(?, ?, ?, ?, ?) "
                  "ON CONFLICT(room, kind, id) DO UPDATE SET json = excluded.json");
      s.bind(1, room).bind(2, m.kind).bind(3, m.id).bind(4, seq).bind(5, json::serialize(*m.value)).run();
    } else {
      Stmt s(db_, "DELETE FROM entities WHERE room = ? AND kind = ? AND id = ?");
      s.bind(1, room).bind(2, m.kind).bind(3, m.id).run();
    }
  }
  if (outcome.durable) {
    auto insert = [&](std::int64_t at, const std::string& type, const std::string& data) {
      Stmt e(db_, "INSERT INTO events(room, seq, type, ts, data) VALUES(?, ?, ?, ?, ?)");
      e.bind(1, room).bind(2, at).bind(3, type).bind(4, ts).bind(5, data).run();
    };
    // Further events of the same commit take the seqs around the command's own.
    std::int64_t first = seq - static_cast<std::int64_t>(outcome.events_before.size());
    for (const auto& ev : outcome.events_before) insert(first++, ev.type, json::serialize(ev.data));
    insert(seq, outcome.event_type, event_data_json);
    std::int64_t last = seq;
    for (const auto& ev : outcome.events_after) insert(++last, ev.type, json::serialize(ev.data));
    Stmt r(db_, "UPDATE rooms SET seq = ? WHERE id = ?");
    r.bind(1, last).bind(2, room).run();
    if (last / 256 != (seq - static_cast<std::int64_t>(outcome.events_before.size()) - 1) / 256) {
      Stmt t(db_, "DELETE FROM events WHERE room = ? AND seq <= ?");
      t.bind(1, room).bind(2, last - retention_).run();
    }
  }
  tx.commit();
}

std::optional<std::vector<EventRow>> Storage::events_since(const std::string& room, std::int64_t since, std::int64_t current_seq) {
  if (since < 0 || since > current_seq) return std::nullopt;
  std::vector<EventRow> out;
  Stmt s(db_, "SELECT seq, type, ts, data FROM events WHERE room = ? AND seq > ? ORDER BY seq");
  s.bind(1, room).bind(2, since);
  while (s.step()) out.push_back({s.i64(0), s.text(1), s.i64(2), s.text(3)});
  // Every seq in (since, current] must be there, or the client needs a snapshot.
  if (static_cast<std::int64_t>(out.size()) != current_seq - since) return std::nullopt;
  if (!out.empty() && out.front().seq != since + 1) return std::nullopt;
  return out;
}

std::map<core::Role, std::string> Storage::codes(const std::string& room) {
  std::map<core::Role, std::string> out;
  Stmt s(db_, "SELECT role, code FROM join_codes WHERE room = ? AND revoked = 0");
  s.bind(1, room);
  while (s.step())
    if (auto r = core::role_from_string(s.text(0))) out[*r] = s.text(1);
  return out;
}

void Storage::set_codes(const std::string& room, const std::map<core::Role, std::string>& codes, std::int64_t now_us) {
  Tx tx(db_);
  Stmt r(db_, "UPDATE join_codes SET revoked = 1 WHERE room = ?");
  r.bind(1, room).run();
  for (const auto& [role, code] : codes) {
    Stmt s(db_, "INSERT INTO join_codes(code, room, role, created) VALUES(?, ?, ?, ?)");
    s.bind(1, code).bind(2, room).bind(3, core::to_string(role)).bind(4, now_us).run();
  }
  tx.commit();
}

void Storage::replace_code(const std::string& room, core::Role role, const std::string& code, std::int64_t now_unix_us) {
  Tx tx(db_);
  Stmt r(db_, "UPDATE join_codes SET revoked = 1 WHERE room = ? AND role = ?");
  r.bind(1, room).bind(2, core::to_string(role)).run();
  Stmt s(db_, "INSERT INTO join_codes(code, room, role, created) VALUES(?, ?, ?, ?)");
  s.bind(1, code).bind(2, room).bind(3, core::to_string(role)).bind(4, now_unix_us).run();
  tx.commit();
}

std::optional<std::int64_t> Storage::code_created(const std::string& room, core::Role role) {
  Stmt s(db_, "SELECT created FROM join_codes WHERE room = ? AND role = ? AND revoked = 0");
  s.bind(1, room).bind(2, core::to_string(role));
  if (!s.step()) return std::nullopt;
  return s.i64(0);
}

std::optional<JoinCode> Storage::lookup_code(const std::string& code) {
  Stmt s(db_, "SELECT room, role FROM join_codes WHERE code = ? AND revoked = 0");
  s.bind(1, code);
  if (!s.step()) return std::nullopt;
  auto role = core::role_from_string(s.text(1));
  if (!role) return std::nullopt;
  return JoinCode{s.text(0), *role};
}

void Storage::insert_refresh(const std::string& hash, const std::string& participant, const std::string& room,
                             const std::string& family, std::int64_t expires_us) {
  Stmt s(db_, "INSERT INTO refresh_tokens(hash, participant, room, family, expires) VALUES(?, ?, ?, ?, ?)");
  s.bind(1, hash).bind(2, participant).bind(3, room).bind(4, family).bind(5, expires_us).run();
}

RefreshUse Storage::use_refresh(const std::string& hash, std::int64_t now_us) {
  Tx tx(db_);
  RefreshUse out;
  Stmt s(db_, "SELECT participant, room, family, used, revoked, expires FROM refresh_tokens WHERE hash = ?");
  s.bind(1, hash);
  if (!s.step()) return out;
  out.participant = s.text(0);
  out.room = s.text(1);
  out.family = s.text(2);
  bool used = s.i64(3) != 0, revoked = s.i64(4) != 0;
  std::int64_t expires = s.i64(5);
  if (revoked) {
    out.result = RefreshUse::Result::revoked;
  } else if (used) {
    // Replay of a rotated token: someone copied it. Revoke the whole family (RFC 6819 §5.2.2.3).
    Stmt r(db_, "UPDATE refresh_tokens SET revoked = 1 WHERE family = ?");
    r.bind(1, out.family).run();
    out.result = RefreshUse::Result::reused;
  } else if (expires < now_us) {
    out.result = RefreshUse::Result::expired;
  } else {
    Stmt u(db_, "UPDATE refresh_tokens SET used = 1 WHERE hash = ?");
    u.bind(1, hash).run();
    out.result = RefreshUse::Result::ok;
  }
  tx.commit();
  return out;
}

void Storage::revoke_participant_tokens(const std::string& participant) {
  Stmt s(db_, "UPDATE refresh_tokens SET revoked = 1 WHERE participant = ?");
  s.bind(1, participant).run();
}

bool Storage::writable() {
  try {
    Tx tx(db_);
    exec("CREATE TABLE IF NOT EXISTS readiness_probe(x INTEGER); DELETE FROM readiness_probe;");
    tx.commit();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void Storage::backup(const std::string& file) {
  sqlite3* dest = nullptr;
  if (sqlite3_open(file.c_str(), &dest) != SQLITE_OK) {
    std::string msg = dest ? sqlite3_errmsg(dest) : "out of memory";
    sqlite3_close(dest);
    throw std::runtime_error("cannot open backup file " + file + ": " + msg);
  }
  sqlite3_backup* b = sqlite3_backup_init(dest, "main", db_, "main");
  if (!b) {
    std::string msg = sqlite3_errmsg(dest);
    sqlite3_close(dest);
    throw std::runtime_error("backup failed: " + msg);
  }
  int rc;
  do {
    rc = sqlite3_backup_step(b, 256);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  std::string msg = sqlite3_errmsg(dest);
  sqlite3_close(dest);
  ::chmod(file.c_str(), 0600);  // a backup holds the join codes too
  if (rc != SQLITE_DONE) throw std::runtime_error("backup failed: " + msg);
}

}  // namespace downbeat::server
