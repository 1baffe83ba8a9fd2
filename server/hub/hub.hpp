#pragma once
// The hub: rooms in memory, the one command dispatcher, durable commit then fan-out, presence,
// tempo heartbeats and joins. Runs on one io_context thread: no locks.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/room.hpp"
#include "core/schema.hpp"
#include "core/token_bucket.hpp"
#include "server/auth/jwt.hpp"
#include "server/hub/connection.hpp"
#include "server/metrics.hpp"
#include "server/storage/storage.hpp"

namespace downbeat::server {

struct HubConfig {
  core::RoomConfig room;
  std::int64_t token_ttl_s = 15 * 60;
  std::int64_t refresh_ttl_s = 30LL * 24 * 3600;
  double join_fail_rate_per_s = 0.2;  // failed joins refill one per 5 s…
  double join_fail_burst = 10;        // …after a burst of 10
  int max_conns_per_ip = 64;
  int max_participants_per_room = 200;  // records kept per room; long-gone ones are pruned first
  double joins_per_min_per_address = 30;  // successful joins too: a flood fills the table otherwise
  double joins_per_min_per_code = 120;
  std::int64_t anchor_resend_us = 2'000'000;
  std::int64_t md_code_ttl_s = 0;  // 0: the MD code lasts until rotated; else a new one this often
};

struct JoinResult {
  std::string token;
  std::string refresh_token;
  boost::json::object participant;
  boost::json::object room;
};

// An HTTP-level failure: status code + error code + message (+ Retry-After for 429).
struct HttpError {
  core::ErrorCode code;
  std::string message;
  int retry_after_s = 0;
};

// One song's body for GET /api/room/songs/<id>: the song as JSON (metadata and `chordpro`) and its ETag.
struct SongBody {
  std::string json;
  std::string etag;  // "\"<id>.<body_rev>\"": a new body, a new tag
  std::int64_t rev = 0;
};

class Hub {
 public:
  Hub(boost::asio::io_context& io, Storage& storage, Metrics& metrics, JwtKey key, HubConfig cfg);

  // HTTP: join by code, rotate a refresh token. Throw HttpError.
  JoinResult exchange(const std::string& address, const boost::json::value& body);
  JoinResult refresh(const boost::json::value& body);
  // POST /auth/peek {code}: the room and role a join code leads to, for the join page ("Joining
  // Rehearsal as musician"). Issues nothing, stores nothing; a wrong code costs the same failed-guess
  // budget as a wrong exchange, and a spent budget refuses it the same way. Throws HttpError.
  boost::json::object peek(const std::string& address, const boost::json::value& body);
  // Checks a WebSocket token before the upgrade. Throws HttpError.
  Claims authorize(const std::string& token, const std::string& address);
  // The room's join codes for an MD token (for the console's QR panel). Throws HttpError.
  boost::json::object room_codes(const std::string& bearer);
  // New codes for the roles in `body.roles` (default: md) for an MD token; the MD consoles
  // get `room.codes` at once. Throws HttpError.
  boost::json::object rotate_codes(const std::string& bearer, const boost::json::value& body);

  // POST /api/room/songs/import for an MD token: the file's songs created through song.create (durable;
  // every connected client gets the song.create event). {song, songs, warnings, format}. Throws HttpError.
  boost::json::object import_songs(const std::string& bearer, const std::string& filename, std::string_view bytes);
  // GET /api/room/songs/<id> for any member token of the song's room. Throws HttpError (404 for an
  // id this room does not have: another room's songs are never read).
  SongBody song_body(const std::string& bearer, const std::string& id);
  // GET /api/room/setlists/<id>/export.chordpro for any member token: {setlist title, ChordPro bundle}. Throws HttpError.
  std::pair<std::string, std::string> export_setlist(const std::string& bearer, const std::string& setlist);

  void attach(const std::shared_ptr<Connection>& conn, const Claims& claims, std::optional<std::int64_t> since);
  void detach(Connection& conn);
  void on_frame(Connection& conn, std::string_view text, std::int64_t received_us);
  void on_binary_frame(Connection& conn);

  bool ready() { return storage_.writable(); }
  Metrics& metrics() { return metrics_; }
  void update_gauges();
  // Starts the periodic grace-period sweep; marks participants left online by a crash as offline.
  void start();

 private:
  struct RoomRuntime {
    explicit RoomRuntime(boost::asio::io_context& io, core::Room r) : room(std::move(r)), beat_timer(io) {}
    core::Room room;
    std::vector<std::weak_ptr<Connection>> conns;
    boost::asio::steady_timer beat_timer;
    std::int64_t last_anchor_sent = 0;
    std::int64_t scheduled_rev = -1;
    // One serialized snapshot shared by every connection that needs it (a library can be megabytes).
    std::shared_ptr<const std::string> snapshot;
    std::uint64_t snapshot_version = 0;
  };

  RoomRuntime* find_room(const std::string& id);
  std::int64_t commit(RoomRuntime& rt, const core::Outcome& out, std::int64_t now);
  void fanout(RoomRuntime& rt, const core::Outcome& out, std::int64_t seq, std::int64_t ts, const Connection* sender);
  // The outcome's events in seq order: events_before, its own event (at `seq`), events_after.
  void fanout_all(RoomRuntime& rt, const core::Outcome& out, std::int64_t seq, std::int64_t ts, const Connection* sender);
  void run(RoomRuntime& rt, const core::Outcome& out, const Connection* sender);
  // Re-sends ptt.state for talkers whose listeners changed (after presence or slot changes).
  void refresh_talkers(RoomRuntime& rt);
  bool rate_limited(Connection& conn, const std::optional<std::string>& re, std::string_view type, std::int64_t now);
  void send_json(Connection& conn, const boost::json::object& msg);
  void send_error(Connection& conn, const std::optional<std::string>& re, core::ErrorCode code, const std::string& message);
  void send_snapshot(Connection& conn, RoomRuntime& rt);
  void schedule_beats(RoomRuntime& rt);
  void on_beat(RoomRuntime& rt, std::int64_t rev);
  void sweep();
  // Asks the allocator to hand freed memory back to the system at the next sweep, a second on.
  void release_memory_soon();
  void rebase_after_reboot();
  Claims md_claims(const std::string& bearer);
  // A valid token of a member of its room (not kicked, not revoked); its room is loaded. Throws HttpError.
  Claims member_claims(const std::string& bearer, RoomRuntime*& rt);
  void replace_codes(RoomRuntime& rt, const std::vector<core::Role>& roles, const char* why);
  void rotate_expired_md_codes();
  JoinResult issue_tokens(const core::Participant& p, RoomRuntime& rt, const std::string& family);
  // Makes room for one more participant record by pruning long-gone ones; false when the room is full.
  bool make_room_for_participant(RoomRuntime& rt);
  int conns_from(const std::string& address) const;
  // Closes every live connection whose token came from this refresh-token family.
  void close_family(const std::string& room, const std::string& family, const std::string& reason);

  boost::asio::io_context& io_;
  Storage& storage_;
  Metrics& metrics_;
  JwtKey key_;
  HubConfig cfg_;
  const core::Schema& schema_;
  std::map<std::string, std::unique_ptr<RoomRuntime>> rooms_;
  // Per address: the failed-guess budget and the last distinct wrong codes (a repeat is not a new guess).
  struct JoinGuesses {
    core::TokenBucket budget;
    std::vector<std::string> recent_wrong;
  };
  std::map<std::string, JoinGuesses> join_failures_;
  // This address's failed-guess budget (shared by exchange and peek); throws 429 when it is spent.
  JoinGuesses& join_guesses(const std::string& address, std::int64_t now);
  // The room a normalized code leads to; a wrong code is charged to `guesses` and thrown as 401.
  std::pair<JoinCode, RoomRuntime*> resolve_code(JoinGuesses& guesses, const std::string& code, std::int64_t now);
  std::map<std::string, core::TokenBucket> joins_by_address_;
  std::map<std::string, core::TokenBucket> joins_by_code_;
  boost::asio::steady_timer sweep_timer_;
  std::optional<std::int64_t> trim_at_;
};

}  // namespace downbeat::server
