#pragma once
// One room's durable and live state, and the rules that change it. Pure: no I/O, no clock.
// The server asks `plan` what a command would change (validating it, throwing CommandError),
// commits the mutations, then calls `apply` — so nothing is acknowledged before it is stored.
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/frame.hpp"
#include "core/permissions.hpp"
#include "core/talk.hpp"
#include "core/tempo.hpp"

namespace downbeat::core {

struct Participant {
  std::string id;
  std::string name;
  std::string device_id;
  Role role = Role::viewer;
  bool online = false;
  std::int64_t last_seen = 0;  // server µs when it went offline
  bool removed = true;         // not in the room (never connected, timed out or kicked)
  bool kicked = false;
};

struct Slot {
  std::string id;
  std::string name;
  std::string instrument;
  std::string group;
  int transpose = 0;
  int capo = 0;              // guitar capo 0..7: shapes read this many semitones lower
  std::string pitch = "C";   // the instrument's transposition: C (concert), Bb, Eb or F
  std::string participant;  // empty = free
  int order = 0;            // position in the MD's slot list (slot.order); ties keep creation order
};

struct SongCurrent {
  std::string setlist;
  int index = 0;
  std::string section;
};

// One change to durable (or, when `ephemeral`, live-only) state. `value` empty = erase.
struct Mutation {
  std::string kind;  // participant | slot | song | setlist | meta | revoke_tokens | ptt | health
  std::string id;
  std::optional<boost::json::object> value;
  bool ephemeral = false;
};

enum class Audience { room, sender, one, md_only, group };

// A further durable event of the same commit, to the whole room (each takes the next seq).
struct Event {
  std::string type;
  boost::json::object data;
};

struct Outcome {
  bool durable = false;
  std::string event_type;  // empty: reply with ack only
  boost::json::object event_data;
  std::vector<Mutation> mutations;
  Audience audience = Audience::room;
  std::string target;                   // participant id (Audience::one) or group (Audience::group)
  bool send_snapshot = false;           // resync.request
  std::vector<std::string> disconnect;  // participants whose connections must close (kick)
  // Durable outcomes only: events committed with this one, before and after the command's own
  // event (slot.assign with move: slot.release first; song.current: tempo.anchor after).
  std::vector<Event> events_before;
  std::vector<Event> events_after;
  // How many seqs the outcome takes (0 when not durable).
  std::int64_t seq_count() const {
    return durable ? 1 + static_cast<std::int64_t>(events_before.size() + events_after.size()) : 0;
  }
};

struct Actor {
  std::string participant;
  Role role = Role::viewer;
};

struct RoomConfig {
  std::int64_t tempo_lead_us = 300'000;
  std::int64_t grace_us = 60'000'000;
  std::size_t max_songs = 2000;  // a library bigger than this makes every snapshot heavy
  // The snapshot's songs (metadata only: bodies are fetched on demand) and setlists, serialized:
  // a change that would take them over this is refused, so every join stays one modest frame.
  std::size_t max_snapshot_bytes = 2u << 20;
};

// A participant who holds Talk: the target they chose and who hears it (resolved by the room).
struct PttEntry {
  std::string target;
  std::vector<std::string> to;
};

struct Health {
  boost::json::object report;
  std::int64_t at = 0;
};

class Room {
 public:
  Room(std::string id, std::string name, RoomConfig cfg = {});

  const std::string& id() const { return id_; }
  const std::string& name() const { return name_; }
  std::int64_t seq() const { return seq_; }
  // Bumped by every applied change, durable or live: a cached snapshot of an older version is stale.
  std::uint64_t version() const { return version_; }
  void set_seq(std::int64_t seq) { seq_ = seq; }
  const RoomConfig& config() const { return cfg_; }
  void set_config(const RoomConfig& cfg) { cfg_ = cfg; }

  // Commands from a connected participant. Throws CommandError.
  Outcome plan(const Actor& actor, const Command& cmd, std::int64_t now_us) const;
  // Presence, driven by the server's connection bookkeeping.
  Outcome plan_online(const std::string& participant) const;
  Outcome plan_offline(const std::string& participant, std::int64_t now_us) const;
  Outcome plan_timeout(const std::string& participant) const;
  // Participants whose grace period has ended at `now_us`.
  std::vector<std::string> expired(std::int64_t now_us) const;
  // The server clock restarted (a reboot): re-express the stored instants (tempo anchors, away
  // since) on the new clock, `delta_us` = new clock − old clock for the same instant.
  Outcome plan_clock_shift(std::int64_t delta_us) const;
  // Participants marked online (for a restart, when no connection survived).
  std::vector<std::string> online_participants() const;

  // Apply a committed outcome; `seq` is the seq of the command's own event for durable outcomes
  // (events_before took the seqs below it, events_after the ones above).
  void apply(const Outcome& outcome, std::int64_t seq);
  void apply_mutation(const Mutation& m);

  boost::json::object snapshot() const;
  // The snapshot's ptt entries: one ptt.state payload per participant talking now.
  boost::json::array snapshot_ptt() const;
  boost::json::object participant_json(const Participant& p) const;
  boost::json::object room_json() const;
  static boost::json::object slot_json(const Slot& s);
  static Slot slot_from_json(const boost::json::object& o);
  static boost::json::object participant_record(const Participant& p);
  static Participant participant_from_record(const boost::json::object& o);

  const Participant* find_participant(const std::string& id) const;
  const Slot* find_slot(const std::string& id) const;
  // The stored song, body (`chordpro`) included.
  const boost::json::object* find_song(const std::string& id) const;
  std::size_t song_count() const { return songs_.size(); }
  // What the snapshot and the song events carry for a stored song: every field but the body, plus
  // `body_rev` (the seq of the event that last set the body; 0 for rows stored before revisions)
  // and `body_bytes` (the body's size in bytes, 0 = no chart). The body itself comes on demand.
  static boost::json::object song_meta(const boost::json::object& stored);
  // Serialized bytes of the snapshot's songs and setlists (what max_snapshot_bytes bounds).
  std::size_t library_bytes() const { return library_bytes_; }
  const boost::json::object* find_setlist(const std::string& id) const;
  const Slot* slot_of(const std::string& participant) const;
  const std::vector<Participant>& participants() const { return participants_; }
  const std::vector<Slot>& slots() const { return slots_; }
  const std::optional<SongCurrent>& song_current() const { return song_current_; }
  const TempoState& tempo() const { return tempo_; }
  bool self_claim() const { return self_claim_; }
  const std::vector<Role>& talk_all() const { return talk_all_; }
  const std::map<std::string, PttEntry>& ptt() const { return ptt_; }
  // The participants who hear `talker` talking to `target` now: online, voice roles, not the talker.
  std::vector<std::string> talk_recipients(const std::string& talker, const TalkTarget& target) const;
  // ptt.state for every talker whose recipients changed (someone came online, a slot moved).
  std::vector<Outcome> plan_ptt_refresh() const;
  // Releases a talker for everyone (their connection closed); an empty outcome if not talking.
  Outcome plan_ptt_release(const std::string& participant) const;
  const std::map<std::string, Health>& health() const { return health_; }
  // The current cue per group (group null = everyone), in the order they were given.
  const boost::json::array& cues() const { return cues_; }
  int song_count_in() const { return song_count_in_; }
  const std::string& voice_path() const { return voice_path_; }

 private:
  std::string next_id(const char* prefix) const;
  Outcome plan_command(const Actor& actor, const Command& cmd, std::int64_t now_us) const;
  Outcome plan_slot(const Actor& actor, const Command& cmd) const;
  Outcome plan_song(const Command& cmd) const;
  Outcome plan_setlist(const Command& cmd, std::int64_t now_us) const;
  Outcome plan_song_current(const Command& cmd, std::int64_t now_us) const;
  Outcome plan_cue(const Actor& actor, const Command& cmd, std::int64_t now_us) const;
  Outcome plan_tempo(const Command& cmd, std::int64_t now_us) const;
  Outcome plan_live(const Actor& actor, const Command& cmd, std::int64_t now_us) const;
  Outcome plan_ptt_press(const Actor& actor, const Command& cmd) const;
  Outcome plan_rtc(const Actor& actor, const Command& cmd) const;
  Outcome plan_settings(const Command& cmd) const;
  boost::json::object settings_json() const;
  Outcome release_slot_of(const std::string& participant, Outcome out) const;
  Outcome presence_change(const std::string& participant, const char* event_type, const Participant& next,
                          boost::json::object event_data) const;
  Participant stored_participant(const std::string& participant) const;
  // Refuses a change that takes the library from `old_bytes` to `new_bytes` over the limit.
  void check_library_bytes(std::size_t old_bytes, std::size_t new_bytes) const;

  std::string id_;
  std::string name_;
  RoomConfig cfg_;
  std::int64_t seq_ = 0;
  std::uint64_t version_ = 0;
  bool self_claim_ = true;
  std::vector<Role> talk_all_;  // roles besides the MD that may talk to "all"
  int song_count_in_ = 0;       // count-in bars when the song changes while the click runs
  std::string voice_path_ = "dc";  // how every device sends talk: "dc" (data channel) or "rtp" (docs/voice.md)
  boost::json::array cues_;     // Cue objects {id, from, text, color, group, at}
  std::vector<Participant> participants_;
  std::vector<Slot> slots_;
  std::vector<boost::json::object> songs_;
  std::vector<boost::json::object> setlists_;
  std::optional<SongCurrent> song_current_;
  std::size_t library_bytes_ = 0;  // serialized song metadata + setlists, kept by apply_mutation
  TempoState tempo_;
  std::map<std::string, PttEntry> ptt_;     // participant -> what they are talking to (live only)
  std::map<std::string, Health> health_;    // participant -> last metrics.report (live only)
};

}  // namespace downbeat::core
