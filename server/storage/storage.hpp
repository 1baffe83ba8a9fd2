#pragma once
// SQLite storage: WAL + synchronous=FULL, schema migrations by PRAGMA user_version.
// Every durable room change is one transaction (entities + event log + room seq) committed
// before the server acknowledges it.
#include <sqlite3.h>

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/room.hpp"

namespace downbeat::server {

struct RoomRow {
  std::string id;
  std::string name;
  std::int64_t seq = 0;
};

struct EventRow {
  std::int64_t seq = 0;
  std::string type;
  std::int64_t ts = 0;
  std::string data;  // JSON text
};

struct JoinCode {
  std::string room;
  core::Role role = core::Role::viewer;
};

struct RefreshUse {
  enum class Result { ok, unknown, reused, revoked, expired } result = Result::unknown;
  std::string participant;
  std::string room;
  std::string family;
};

class Storage {
 public:
  // Creates the database (and its -wal / -shm) readable by the owner only: it holds the join codes.
  explicit Storage(const std::string& path);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  std::vector<RoomRow> rooms();
  std::optional<RoomRow> room(const std::string& id);
  void create_room(const std::string& id, const std::string& name, std::int64_t now_us);
  // Loads a room's durable entities into `room` (participants, slots, songs, setlists, meta).
  void load_room(core::Room& room);

  // One transaction: mutations, the event rows (when durable: events_before, the command's own
  // event at `seq`, events_after), the room seq (the last of them).
  void commit(const std::string& room, std::int64_t seq, std::int64_t ts, const core::Outcome& outcome, const std::string& event_data_json);
  // A durable write that is not an event (participant records created at join).
  void put_entity(const std::string& room, const std::string& kind, const std::string& id, const boost::json::object& value);
  // Events after `since`, or nullopt when some of them are no longer in the log.
  std::optional<std::vector<EventRow>> events_since(const std::string& room, std::int64_t since, std::int64_t current_seq);

  std::map<core::Role, std::string> codes(const std::string& room);
  void set_codes(const std::string& room, const std::map<core::Role, std::string>& codes, std::int64_t now_us);
  std::optional<JoinCode> lookup_code(const std::string& code);
  // Replaces one role's code (the others keep working); `now_unix_us` is when it was made.
  void replace_code(const std::string& room, core::Role role, const std::string& code, std::int64_t now_unix_us);
  // When the role's current code was made (Unix µs), or nullopt when it has none.
  std::optional<std::int64_t> code_created(const std::string& room, core::Role role);

  // Refresh-token expiry is wall-clock (Unix µs): it must outlive a reboot correctly.
  void insert_refresh(const std::string& hash, const std::string& participant, const std::string& room, const std::string& family, std::int64_t expires_unix_us);
  RefreshUse use_refresh(const std::string& hash, std::int64_t now_unix_us);
  void revoke_participant_tokens(const std::string& participant);
  // A family is revoked once a rotated refresh token of it was replayed (or its device was kicked).
  bool family_revoked(const std::string& family);
  // Participants pruned from a room (long gone): their records and refresh tokens.
  void delete_participants(const std::string& room, const std::vector<std::string>& ids);

  // Small key/value facts about the server itself (the boot it last ran in).
  std::optional<std::string> server_meta(const std::string& key);
  void set_server_meta(const std::string& key, const std::string& value);

  bool writable();
  void backup(const std::string& file);
  void set_event_retention(std::int64_t n) { retention_ = n; }

 private:
  void exec(const char* sql);
  void migrate();
  sqlite3* db_ = nullptr;
  std::int64_t retention_ = 10000;
};

}  // namespace downbeat::server
