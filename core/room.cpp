#include "core/room.hpp"

#include <algorithm>

#include "core/chart.hpp"
#include "core/text.hpp"

namespace downbeat::core {
namespace json = boost::json;

namespace {
std::string str_or(const json::object& o, std::string_view key, std::string fallback = {}) {
  if (const auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return fallback;
}
json::value str_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

template <class T>
auto find_by_id(T& vec, const std::string& id) {
  return std::find_if(vec.begin(), vec.end(), [&](const auto& x) {
    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, json::object>)
      return x.at("id").as_string() == id;
    else
      return x.id == id;
  });
}

[[noreturn]] void fail(ErrorCode code, std::string msg) { throw CommandError(code, std::move(msg)); }

Mutation put(std::string kind, std::string id, json::object value) {
  return Mutation{std::move(kind), std::move(id), std::move(value), false};
}

// An outcome announcing `event_type`: durable (it takes a seq and goes to the event log, and the
// command's ack carries that seq) exactly when protocol/schema.json says the event is.
Outcome announce(std::string event_type) {
  Outcome out;
  out.durable = Schema::builtin().event_is_durable(event_type);
  out.event_type = std::move(event_type);
  return out;
}
}  // namespace

Room::Room(std::string id, std::string name, RoomConfig cfg) : id_(std::move(id)), name_(std::move(name)), cfg_(cfg) {}

std::string Room::next_id(const char* prefix) const { return prefix + std::to_string(seq_ + 1); }

// ---------------------------------------------------------------- lookups

const Participant* Room::find_participant(const std::string& id) const {
  auto it = find_by_id(participants_, id);
  return it == participants_.end() ? nullptr : &*it;
}
const Slot* Room::find_slot(const std::string& id) const {
  auto it = find_by_id(slots_, id);
  return it == slots_.end() ? nullptr : &*it;
}
const json::object* Room::find_song(const std::string& id) const {
  auto it = find_by_id(songs_, id);
  return it == songs_.end() ? nullptr : &*it;
}
const json::object* Room::find_setlist(const std::string& id) const {
  auto it = find_by_id(setlists_, id);
  return it == setlists_.end() ? nullptr : &*it;
}
const Slot* Room::slot_of(const std::string& participant) const {
  auto it = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.participant == participant; });
  return it == slots_.end() ? nullptr : &*it;
}

// ---------------------------------------------------------------- JSON shapes

json::object Room::song_meta(const json::object& stored) {
  json::object meta;
  std::int64_t rev = 0, bytes = 0;
  for (const auto& [k, v] : stored) {
    if (k == "chordpro") {
      if (v.is_string()) bytes = static_cast<std::int64_t>(v.get_string().size());
    } else if (k == "body_rev") {
      if (v.is_number()) rev = v.to_number<std::int64_t>();
    } else {
      meta.emplace(k, v);
    }
  }
  // Every field the schema's `song` promises, even from a row stored before some of them existed.
  for (const char* k : {"artist", "key", "bpm", "meter"})
    if (!meta.contains(k)) meta[k] = nullptr;
  meta["body_rev"] = rev;
  meta["body_bytes"] = bytes;
  return meta;
}

namespace {
std::size_t meta_bytes(const json::object& stored) { return json::serialize(Room::song_meta(stored)).size() + 1; }
std::size_t setlist_bytes(const json::object& setlist) { return json::serialize(setlist).size() + 1; }
}  // namespace

void Room::check_library_bytes(std::size_t old_bytes, std::size_t new_bytes) const {
  if (new_bytes <= old_bytes) return;
  std::size_t next = library_bytes_ - old_bytes + new_bytes;
  if (next > cfg_.max_snapshot_bytes)
    fail(ErrorCode::conflict, "the room's song list and setlists would take " + std::to_string(next / 1024) + " KiB of every join, over the limit of " +
                                  std::to_string(cfg_.max_snapshot_bytes / 1024) +
                                  " KiB: delete songs or setlists you no longer use, or start the server with a larger --max-snapshot-bytes");
}

json::object Room::slot_json(const Slot& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"instrument", str_or_null(s.instrument)},
          {"group", str_or_null(s.group)},
          {"transpose", s.transpose},
          {"capo", s.capo},
          {"pitch", s.pitch},
          {"participant", str_or_null(s.participant)},
          {"order", s.order}};
}

Slot Room::slot_from_json(const json::object& o) {
  Slot s;
  s.id = str_or(o, "id");
  s.name = str_or(o, "name");
  s.instrument = str_or(o, "instrument");
  s.group = str_or(o, "group");
  if (const auto* t = o.if_contains("transpose"); t && t->is_number()) s.transpose = static_cast<int>(t->to_number<std::int64_t>());
  // Rows stored before capo and pitch existed read as no capo, concert pitch.
  if (const auto* c = o.if_contains("capo"); c && c->is_number()) s.capo = static_cast<int>(std::clamp<std::int64_t>(c->to_number<std::int64_t>(), 0, 7));
  s.pitch = str_or(o, "pitch", "C");
  if (s.pitch != "Bb" && s.pitch != "Eb" && s.pitch != "F") s.pitch = "C";
  s.participant = str_or(o, "participant");
  if (const auto* n = o.if_contains("order"); n && n->is_number()) s.order = static_cast<int>(n->to_number<std::int64_t>());
  return s;
}

json::object Room::participant_record(const Participant& p) {
  return {{"id", p.id},       {"name", p.name},           {"device_id", p.device_id}, {"role", to_string(p.role)},
          {"online", p.online}, {"last_seen", p.last_seen}, {"removed", p.removed},     {"kicked", p.kicked}};
}

Participant Room::participant_from_record(const json::object& o) {
  Participant p;
  p.id = str_or(o, "id");
  p.name = str_or(o, "name");
  p.device_id = str_or(o, "device_id");
  p.role = role_from_string(str_or(o, "role")).value_or(Role::viewer);
  if (const auto* v = o.if_contains("online")) p.online = v->as_bool();
  if (const auto* v = o.if_contains("last_seen")) p.last_seen = v->to_number<std::int64_t>();
  if (const auto* v = o.if_contains("removed")) p.removed = v->as_bool();
  if (const auto* v = o.if_contains("kicked")) p.kicked = v->as_bool();
  return p;
}

json::object Room::participant_json(const Participant& p) const {
  const Slot* s = slot_of(p.id);
  return {{"id", p.id},
          {"name", p.name},
          {"role", to_string(p.role)},
          {"online", p.online},
          {"slot", s ? json::value(s->id) : json::value(nullptr)}};
}

json::object Room::settings_json() const {
  json::array talk_all;
  for (Role r : talk_all_) talk_all.push_back(json::value(to_string(r)));
  return {{"self_claim", self_claim_}, {"talk_all", std::move(talk_all)}, {"song_count_in", song_count_in_}, {"voice_path", voice_path_}};
}

json::object Room::room_json() const { return {{"id", id_}, {"name", name_}, {"settings", settings_json()}}; }

namespace {
json::object ptt_state_json(const std::string& participant, const PttEntry* e) {
  json::array to;
  if (e)
    for (const auto& id : e->to) to.push_back(json::value(id));
  return {{"participant", participant},
          {"talking", e != nullptr},
          {"target", e ? json::value(e->target) : json::value(nullptr)},
          {"to", std::move(to)}};
}
json::object ptt_record(const PttEntry& e) {
  json::array to;
  for (const auto& id : e.to) to.push_back(json::value(id));
  return {{"target", e.target}, {"to", std::move(to)}};
}
}  // namespace

json::array Room::snapshot_ptt() const {
  json::array ptt;
  for (const auto& [pid, entry] : ptt_) ptt.push_back(ptt_state_json(pid, &entry));
  return ptt;
}

json::object Room::snapshot() const {
  json::array participants, slots, songs, setlists, ptt;
  for (const auto& p : participants_)
    if (!p.removed) participants.push_back(participant_json(p));
  for (const auto& s : slots_) slots.push_back(slot_json(s));
  for (const auto& s : songs_) songs.push_back(song_meta(s));
  for (const auto& s : setlists_) setlists.push_back(s);
  ptt = snapshot_ptt();
  json::value current = nullptr;
  json::value active = nullptr;
  if (song_current_) {
    current = json::object{{"setlist", song_current_->setlist},
                           {"index", song_current_->index},
                           {"section", str_or_null(song_current_->section)}};
    active = song_current_->setlist;
  }
  return {{"seq", seq_},           {"room", room_json()}, {"participants", std::move(participants)},
          {"slots", std::move(slots)}, {"songs", std::move(songs)}, {"setlists", std::move(setlists)},
          {"active_setlist", active},   {"song_current", current}, {"tempo", to_json(tempo_)},
          {"ptt", std::move(ptt)},      {"cues", cues_}};
}

// ---------------------------------------------------------------- planning

Outcome Room::plan(const Actor& actor, const Command& cmd, std::int64_t now_us) const {
  Outcome out = plan_command(actor, cmd, now_us);
  // The schema says which commands are durable (ack with a seq) and which events take one; the
  // room's outcome must agree with both, or a client would wait for an event that never comes.
  const CommandSpec* spec = cmd.spec ? cmd.spec : Schema::builtin().find(cmd.type);
  bool extras_durable = true;
  for (const auto* evs : {&out.events_before, &out.events_after})
    for (const auto& e : *evs) extras_durable = extras_durable && Schema::builtin().event_is_durable(e.type);
  if ((spec && spec->durable != out.durable) || (!out.durable && !(out.events_before.empty() && out.events_after.empty())) || !extras_durable)
    fail(ErrorCode::internal, "the room and protocol/schema.json disagree on whether " + cmd.type +
                                  " is durable; nothing was changed: report this as a server bug");
  return out;
}

Outcome Room::plan_command(const Actor& actor, const Command& cmd, std::int64_t now_us) const {
  if (!role_may(actor.role, cmd.type))
    fail(ErrorCode::forbidden, "a " + std::string(to_string(actor.role)) + " may not use " + cmd.type +
                                   (cmd.type.starts_with("song") || cmd.type.starts_with("setlist") || cmd.type.starts_with("tempo")
                                        ? ": only the MD may change songs, setlists and tempo"
                                        : ""));
  const std::string& t = cmd.type;
  // Text people read on every screen must be visible: not spaces, not zero-width characters alone.
  static constexpr std::pair<std::string_view, std::string_view> kVisible[] = {
      {"slot.create", "name"}, {"slot.update", "name"}, {"song.create", "title"}, {"song.update", "title"}, {"setlist.update", "title"}, {"cue", "text"}};
  for (const auto& [type, field] : kVisible)
    if (t == type)
      if (const auto* v = cmd.data.if_contains(field); v && v->is_string() && !has_visible_text(v->get_string()))
        fail(ErrorCode::bad_request, std::string(field) + " must contain visible text, not only spaces or invisible characters");
  if (t.starts_with("slot.")) return plan_slot(actor, cmd);
  if (t == "song.create" || t == "song.update" || t == "song.delete") return plan_song(cmd);
  if (t.starts_with("setlist.") || t == "song.current") return plan_setlist(cmd, now_us);
  if (t == "cue" || t == "cue.clear") return plan_cue(actor, cmd, now_us);
  if (t.starts_with("tempo.")) return plan_tempo(cmd, now_us);
  if (t == "room.settings") return plan_settings(cmd);
  if (t == "participant.kick") {
    std::string pid(cmd.data.at("participant").as_string());
    const Participant* p = find_participant(pid);
    if (!p || p->removed) fail(ErrorCode::not_found, "no participant " + pid + " in this room");
    if (pid == actor.participant) fail(ErrorCode::bad_request, "you cannot kick yourself");
    Participant gone = *p;
    gone.removed = true;
    gone.kicked = true;
    gone.online = false;
    Outcome out = announce("participant.leave");
    out.event_data = {{"participant", pid}, {"reason", "kicked"}};
    out.mutations.push_back(put("participant", pid, participant_record(gone)));
    out.mutations.push_back(Mutation{"revoke_tokens", pid, json::object{}, false});
    out.disconnect.push_back(pid);
    return release_slot_of(pid, std::move(out));
  }
  return plan_live(actor, cmd, now_us);
}

Outcome Room::release_slot_of(const std::string& participant, Outcome out) const {
  if (const Slot* s = slot_of(participant)) {
    Slot freed = *s;
    freed.participant.clear();
    out.mutations.push_back(put("slot", freed.id, slot_json(freed)));
  }
  if (ptt_.count(participant)) out.mutations.push_back(Mutation{"ptt", participant, std::nullopt, true});
  return out;
}

Outcome Room::plan_slot(const Actor& actor, const Command& cmd) const {
  const auto& d = cmd.data;
  Outcome out = announce(cmd.type);
  if (cmd.type == "slot.create") {
    Slot s;
    s.id = next_id("sl");
    s.name = str_or(d, "name");
    s.instrument = str_or(d, "instrument");
    s.group = str_or(d, "group");
    if (const auto* t = d.if_contains("transpose")) s.transpose = static_cast<int>(t->to_number<std::int64_t>());
    if (const auto* c = d.if_contains("capo")) s.capo = static_cast<int>(c->to_number<std::int64_t>());
    s.pitch = str_or(d, "pitch", "C");
    for (const auto& x : slots_) s.order = std::max(s.order, x.order + 1);
    if (std::any_of(slots_.begin(), slots_.end(), [&](const Slot& x) { return x.name == s.name; }))
      fail(ErrorCode::conflict, "a slot named \"" + s.name + "\" already exists: pick another name");
    out.event_data = {{"slot", slot_json(s)}};
    out.mutations.push_back(put("slot", s.id, slot_json(s)));
    return out;
  }
  if (cmd.type == "slot.order") {
    // The whole list in its new order: a list that names a slot twice or misses one would leave
    // the MD's screen and the band's in two orders.
    const auto& ids = d.at("slots").as_array();
    const std::string how = "send every slot of the room once, in the new order (the room has " + std::to_string(slots_.size()) + " slots)";
    if (ids.size() != slots_.size()) fail(ErrorCode::bad_request, "slot.order lists " + std::to_string(ids.size()) + " slots: " + how);
    json::array order;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::string id(ids[i].as_string());
      const Slot* sl = find_slot(id);
      if (!sl) fail(ErrorCode::not_found, "no slot " + id + " in this room: " + how);
      for (std::size_t j = 0; j < i; ++j)
        if (ids[j].as_string() == id) fail(ErrorCode::bad_request, "slot " + sl->name + " is listed twice: " + how);
      Slot moved = *sl;
      moved.order = static_cast<int>(i);
      if (moved.order != sl->order) out.mutations.push_back(put("slot", id, slot_json(moved)));
      order.push_back(json::string(id));
    }
    out.event_data = {{"slots", order}};
    return out;
  }
  std::string sid(d.at("slot").as_string());
  const Slot* existing = find_slot(sid);
  if (!existing) fail(ErrorCode::not_found, "no slot " + sid + " in this room");
  Slot s = *existing;
  if (cmd.type == "slot.update") {
    if (const auto* v = d.if_contains("name")) {
      s.name = std::string(v->as_string());
      if (std::any_of(slots_.begin(), slots_.end(), [&](const Slot& x) { return x.id != sid && x.name == s.name; }))
        fail(ErrorCode::conflict, "a slot named \"" + s.name + "\" already exists: pick another name");
    }
    if (const auto* v = d.if_contains("instrument")) s.instrument = std::string(v->as_string());
    if (const auto* v = d.if_contains("group")) s.group = std::string(v->as_string());
    if (const auto* v = d.if_contains("transpose")) s.transpose = static_cast<int>(v->to_number<std::int64_t>());
    if (const auto* v = d.if_contains("capo")) s.capo = static_cast<int>(v->to_number<std::int64_t>());
    if (const auto* v = d.if_contains("pitch")) s.pitch = std::string(v->as_string());
    out.event_data = {{"slot", slot_json(s)}};
    out.mutations.push_back(put("slot", sid, slot_json(s)));
    return out;
  }
  if (cmd.type == "slot.delete") {
    out.event_data = {{"slot", sid}};
    out.mutations.push_back(Mutation{"slot", sid, std::nullopt, false});
    return out;
  }
  if (cmd.type == "slot.release") {
    if (actor.role != Role::md && s.participant != actor.participant)
      fail(ErrorCode::forbidden, "you can only release your own slot; ask the MD to release " + s.name);
    if (s.participant.empty()) fail(ErrorCode::conflict, "slot " + s.name + " is already free");
    s.participant.clear();
    out.event_data = {{"slot", slot_json(s)}};
    out.mutations.push_back(put("slot", sid, slot_json(s)));
    return out;
  }
  // slot.assign
  std::string pid(d.at("participant").as_string());
  const Participant* p = find_participant(pid);
  if (!p || p->removed) fail(ErrorCode::not_found, "no participant " + pid + " in this room");
  if (actor.role != Role::md) {
    if (pid != actor.participant) fail(ErrorCode::forbidden, "a musician may only claim a slot for themself");
    if (!self_claim_) fail(ErrorCode::forbidden, "this room does not allow claiming slots: ask the MD to assign you");
    if (!s.participant.empty() && s.participant != pid)
      fail(ErrorCode::conflict, "slot " + s.name + " is taken: pick a free slot or ask the MD");
  }
  // A participant holds at most one slot: moving them out of another one must be asked for.
  if (const Slot* old = slot_of(pid); old && old->id != sid) {
    const auto* move = d.if_contains("move");
    if (!(move && move->is_bool() && move->get_bool()))
      fail(ErrorCode::conflict, p->name + " already holds " + old->name + "; assign again with move to move them");
    Slot freed = *old;
    freed.participant.clear();
    out.mutations.push_back(put("slot", freed.id, slot_json(freed)));
    out.events_before.push_back(Event{"slot.release", {{"slot", slot_json(freed)}}});
  }
  s.participant = pid;
  out.event_data = {{"slot", slot_json(s)}};
  out.mutations.push_back(put("slot", sid, slot_json(s)));
  return out;
}

// A chart's {key}, {tempo} and {time} fill the song's key, bpm and meter where they are not set:
// a pasted chart reads right without typing them twice. Values that are not a key, a bpm of 20-400
// or a meter like 6/8 are left out (the chart keeps them as written).
static void fill_from_chart(json::object& song) {
  const auto* cp = song.if_contains("chordpro");
  if (!cp || !cp->is_string()) return;
  const bool need_key = song["key"].is_null(), need_bpm = song["bpm"].is_null(), need_meter = song["meter"].is_null();
  if (!need_key && !need_bpm && !need_meter) return;
  const auto chart = chart::parse(cp->as_string());
  if (need_key && chart.key && chart.key->size() <= 8 && chart::parse_key(*chart.key)) song["key"] = *chart.key;
  if (need_bpm && chart.tempo)
    if (auto bpm = chart::song_bpm(*chart.tempo)) song["bpm"] = *bpm;
  if (need_meter && chart.time)
    if (auto m = chart::song_meter(*chart.time)) song["meter"] = json::object{{"beats", m->beats}, {"unit", m->unit}};
}

Outcome Room::plan_song(const Command& cmd) const {
  const auto& d = cmd.data;
  Outcome out = announce(cmd.type);
  static constexpr const char* kFields[] = {"title", "artist", "key", "bpm", "meter", "chordpro"};
  if (cmd.type == "song.create") {
    if (songs_.size() >= cfg_.max_songs)
      fail(ErrorCode::conflict, "the song library is full (" + std::to_string(cfg_.max_songs) + " songs): delete songs you no longer use");
    json::object song{{"id", next_id("sg")}};
    for (const char* f : kFields) song[f] = d.contains(f) ? d.at(f) : json::value(nullptr);
    fill_from_chart(song);
    song["body_rev"] = seq_ + 1;  // this event's seq
    check_library_bytes(0, meta_bytes(song));
    out.event_data = {{"song", song_meta(song)}};
    out.mutations.push_back(put("song", std::string(song.at("id").as_string()), song));
    return out;
  }
  std::string id(d.at("id").as_string());
  const json::object* existing = find_song(id);
  if (!existing) fail(ErrorCode::not_found, "no song " + id + " in this room's library");
  if (cmd.type == "song.delete") {
    for (const auto& sl : setlists_)
      for (const auto& item : sl.at("items").as_array())
        if (item.at("song").as_string() == id)
          fail(ErrorCode::conflict, "song is used in setlist \"" + std::string(sl.at("title").as_string()) +
                                        "\": remove it from the setlist first");
    out.event_data = {{"id", id}};
    out.mutations.push_back(Mutation{"song", id, std::nullopt, false});
    return out;
  }
  json::object song = *existing;
  for (const char* f : kFields)
    if (d.contains(f)) song[f] = d.at(f);
  if (d.contains("chordpro")) {
    fill_from_chart(song);
    // A new body gets a new revision (clients refetch it); the same text sent again keeps it cached.
    const auto* before = existing->if_contains("chordpro");
    if (!before || *before != song.at("chordpro")) song["body_rev"] = seq_ + 1;
  }
  check_library_bytes(meta_bytes(*existing), meta_bytes(song));
  out.event_data = {{"song", song_meta(song)}};
  out.mutations.push_back(put("song", id, song));
  return out;
}

Outcome Room::plan_song_current(const Command& cmd, std::int64_t now_us) const {
  const auto& d = cmd.data;
  Outcome out = announce(cmd.type);
  std::string sl(d.at("setlist").as_string());
  const json::object* setlist = find_setlist(sl);
  if (!setlist) fail(ErrorCode::not_found, "no setlist " + sl + " in this room");
  auto index = d.at("index").to_number<std::int64_t>();
  const auto& items = setlist->at("items").as_array();
  auto size = static_cast<std::int64_t>(items.size());
  if (index >= size)
    fail(ErrorCode::not_found, "setlist \"" + std::string(setlist->at("title").as_string()) + "\" has " +
                                   std::to_string(size) + " songs: index must be below that");
  json::object cur{{"setlist", sl}, {"index", index}, {"section", d.contains("section") ? d.at("section") : json::value(nullptr)}};
  out.event_data = cur;
  out.mutations.push_back(put("meta", "current", cur));

  // Another song (not just another section of this one): its tempo, from its first bar.
  bool song_changes = !song_current_ || song_current_->setlist != sl || song_current_->index != index;
  const auto* keep = d.if_contains("keep_tempo");
  if (!song_changes || (keep && keep->is_bool() && keep->get_bool())) return out;
  const auto& item = items[static_cast<std::size_t>(index)].as_object();
  const json::object* song = find_song(std::string(item.at("song").as_string()));
  TempoSetParams p;
  if (const auto* v = item.if_contains("bpm"); v && v->is_number()) p.bpm = v->to_number<double>();
  else if (const auto* sv = song ? song->if_contains("bpm") : nullptr; sv && sv->is_number()) p.bpm = sv->to_number<double>();
  if (const auto* m = song ? song->if_contains("meter") : nullptr; m && m->is_object()) {
    const auto& mo = m->get_object();
    if (mo.contains("beats") && mo.contains("unit"))
      p.meter = Meter{static_cast<int>(mo.at("beats").to_number<std::int64_t>()), static_cast<int>(mo.at("unit").to_number<std::int64_t>())};
  }
  // Stored songs passed the schema; anything else (an old row) leaves the tempo alone rather than failing the move.
  if (!validate_tempo_set(p, tempo_).empty()) p = TempoSetParams{};
  if (!tempo_.running && !p.bpm && !p.meter) return out;  // nothing would sound or read differently
  TempoState next = apply_song_change(tempo_, p, song_count_in_, now_us, cfg_.tempo_lead_us);
  out.mutations.push_back(put("meta", "tempo", to_json(next)));
  out.events_after.push_back(Event{"tempo.anchor", {{"tempo", to_json(next)}}});
  return out;
}

Outcome Room::plan_setlist(const Command& cmd, std::int64_t now_us) const {
  const auto& d = cmd.data;
  Outcome out = announce(cmd.type);
  if (cmd.type == "song.current") return plan_song_current(cmd, now_us);
  if (cmd.type == "setlist.delete") {
    std::string id(d.at("id").as_string());
    if (!find_setlist(id)) fail(ErrorCode::not_found, "no setlist " + id + " in this room");
    out.event_data = {{"id", id}};
    out.mutations.push_back(Mutation{"setlist", id, std::nullopt, false});
    if (song_current_ && song_current_->setlist == id) out.mutations.push_back(Mutation{"meta", "current", std::nullopt, false});
    return out;
  }
  // setlist.update: create (no id) or replace.
  std::string id;
  if (const auto* v = d.if_contains("id")) {
    id = std::string(v->as_string());
    if (!find_setlist(id)) fail(ErrorCode::not_found, "no setlist " + id + " in this room: omit id to create one");
  } else {
    id = next_id("st");
  }
  json::array items;
  for (const auto& raw : d.at("items").as_array()) {
    const auto& it = raw.as_object();
    std::string song(it.at("song").as_string());
    if (!find_song(song)) fail(ErrorCode::not_found, "setlist item refers to unknown song " + song + ": create the song first");
    items.push_back({{"song", song},
                     {"key", it.contains("key") ? it.at("key") : json::value(nullptr)},
                     {"bpm", it.contains("bpm") ? it.at("bpm") : json::value(nullptr)},
                     {"notes", it.contains("notes") ? it.at("notes") : json::value(nullptr)}});
  }
  json::object setlist{{"id", id}, {"title", d.at("title")}, {"items", std::move(items)}};
  const json::object* old = find_setlist(id);
  check_library_bytes(old ? setlist_bytes(*old) : 0, setlist_bytes(setlist));
  out.event_data = {{"setlist", setlist}};
  out.mutations.push_back(put("setlist", id, setlist));
  return out;
}

Outcome Room::plan_tempo(const Command& cmd, std::int64_t now_us) const {
  const auto& d = cmd.data;
  TempoState next;
  if (cmd.type == "tempo.set") {
    TempoSetParams p;
    if (const auto* v = d.if_contains("bpm")) p.bpm = v->to_number<double>();
    if (const auto* v = d.if_contains("meter"))
      p.meter = Meter{static_cast<int>(v->at("beats").to_number<std::int64_t>()), static_cast<int>(v->at("unit").to_number<std::int64_t>())};
    if (const auto* v = d.if_contains("accents")) {
      std::vector<int> a;
      for (const auto& x : v->as_array()) a.push_back(static_cast<int>(x.to_number<std::int64_t>()));
      p.accents = std::move(a);
    }
    if (const auto* v = d.if_contains("subdivision")) p.subdivision = static_cast<int>(v->to_number<std::int64_t>());
    if (auto err = validate_tempo_set(p, tempo_); !err.empty()) fail(ErrorCode::bad_request, err);
    next = apply_set(tempo_, p, now_us, cfg_.tempo_lead_us);
  } else if (cmd.type == "tempo.start") {
    int count_in = 0;
    if (const auto* v = d.if_contains("count_in_bars")) count_in = static_cast<int>(v->to_number<std::int64_t>());
    if (auto err = validate_count_in(count_in); !err.empty()) fail(ErrorCode::bad_request, err);
    next = apply_start(tempo_, count_in, now_us, cfg_.tempo_lead_us);
  } else {
    if (!tempo_.running) fail(ErrorCode::conflict, "the click is not running");
    next = apply_stop(tempo_, now_us, cfg_.tempo_lead_us);
  }
  Outcome out = announce("tempo.anchor");
  out.event_data = {{"tempo", to_json(next)}};
  out.mutations.push_back(put("meta", "tempo", to_json(next)));
  return out;
}

Outcome Room::plan_live(const Actor& actor, const Command& cmd, std::int64_t now_us) const {
  const auto& d = cmd.data;
  Outcome out;
  out.event_type = cmd.type;
  const std::string& t = cmd.type;
  if (t == "resync.request") {
    out.event_type.clear();
    out.send_snapshot = true;
    return out;
  }
  if (t == "ptt.press") return plan_ptt_press(actor, cmd);
  if (t == "ptt.release") {
    Outcome rel = plan_ptt_release(actor.participant);
    // Releasing while not talking is harmless (a latch double-tap): tell the room anyway.
    if (rel.event_type.empty()) {
      rel.event_type = "ptt.state";
      rel.event_data = ptt_state_json(actor.participant, nullptr);
    }
    return rel;
  }
  if (t.starts_with("rtc.")) return plan_rtc(actor, cmd);
  if (t == "metrics.report") {
    json::object report = d;
    out.mutations.push_back(Mutation{"health", actor.participant, json::object{{"report", report}, {"at", now_us}}, true});
    report["participant"] = actor.participant;
    out.event_data = std::move(report);
    out.audience = Audience::md_only;
    return out;
  }
  fail(ErrorCode::unsupported, "command " + t + " is not handled by the room");
}

// ---------------------------------------------------------------- cues

// Cues are durable: the current one per group is in the snapshot, so a reload or a late joiner
// sees it. A cue to everyone replaces every current cue; a cue to group G replaces G's.
Outcome Room::plan_cue(const Actor& actor, const Command& cmd, std::int64_t now_us) const {
  const auto& d = cmd.data;
  std::string group = str_or(d, "group");
  bool clear = cmd.type == "cue.clear";
  if (actor.role == Role::tech && group != "tech")
    fail(ErrorCode::forbidden, clear ? "a tech may only clear the \"tech\" group's cue: send cue.clear with group \"tech\""
                                     : "a tech may only cue the \"tech\" group: send the cue with group \"tech\"");
  if (!group.empty() && group != "tech" && std::none_of(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.group == group; }))
    fail(ErrorCode::not_found, "no group \"" + group + "\" in this room's slots: use a slot's group, \"tech\", or leave group out for everyone");
  json::array next;
  if (!group.empty())
    for (const auto& c : cues_)
      if (!(c.is_object() && str_or(c.get_object(), "group") == group)) next.push_back(c);
  Outcome out = announce(cmd.type);
  if (clear) {
    out.event_data = {{"group", str_or_null(group)}};
  } else {
    json::object cue{{"id", next_id("cu")},
                     {"from", actor.participant},
                     {"text", d.at("text")},
                     {"color", str_or(d, "color", "yellow")},
                     {"group", str_or_null(group)},
                     {"at", now_us / 1000}};
    next.push_back(cue);
    out.event_data = {{"cue", std::move(cue)}};
  }
  out.mutations.push_back(put("meta", "cues", {{"cues", std::move(next)}}));
  return out;
}

// ---------------------------------------------------------------- talk, signalling, settings

std::vector<std::string> Room::talk_recipients(const std::string& talker, const TalkTarget& target) const {
  std::vector<std::string> out;
  for (const auto& p : participants_) {
    if (p.id == talker || !p.online || p.removed || !voice_role(p.role)) continue;
    bool hears = false;
    switch (target.kind) {
      case TalkKind::all: hears = true; break;
      case TalkKind::md: hears = p.role == Role::md; break;
      case TalkKind::participant: hears = p.id == target.name; break;
      case TalkKind::group: {
        const Slot* s = slot_of(p.id);
        hears = s && s->group == target.name;
        break;
      }
    }
    if (hears) out.push_back(p.id);
  }
  return out;
}

Outcome Room::plan_ptt_press(const Actor& actor, const Command& cmd) const {
  std::string raw(cmd.data.at("target").as_string());
  auto target = parse_talk_target(raw);
  if (!target) fail(ErrorCode::bad_request, "talk target \"" + raw + "\" is not valid: use all, md, a talk group or @participant");
  const Slot* own = slot_of(actor.participant);
  switch (target->kind) {
    case TalkKind::group:
      if (std::none_of(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.group == target->name; }))
        fail(ErrorCode::not_found, "no talk group \"" + target->name + "\": use all, md or a slot's group");
      break;
    case TalkKind::participant: {
      const Participant* p = find_participant(target->name);
      if (!p || p->removed) fail(ErrorCode::not_found, "no participant " + target->name + " in this room");
      if (p->id == actor.participant) fail(ErrorCode::bad_request, "you cannot talk to yourself: pick another target");
      if (!voice_role(p->role)) fail(ErrorCode::forbidden, p->name + " is a stage display and has no voice: pick another target");
      break;
    }
    default: break;
  }
  bool allowed = false;
  switch (talk_rule(actor.role, target->kind)) {
    case TalkRule::never: break;
    case TalkRule::always: allowed = true; break;
    case TalkRule::own_group: allowed = own && own->group == target->name; break;
    case TalkRule::if_room_allows: allowed = std::find(talk_all_.begin(), talk_all_.end(), actor.role) != talk_all_.end(); break;
  }
  if (!allowed) {
    std::string role(to_string(actor.role));
    switch (target->kind) {
      case TalkKind::all: fail(ErrorCode::forbidden, "only the MD may talk to everyone (the MD can allow it in the room settings): talk to \"md\" or your group");
      case TalkKind::group:
        fail(ErrorCode::forbidden, own && !own->group.empty()
                                       ? "you may talk to your own group \"" + own->group + "\" or to \"md\", not to \"" + target->name + "\""
                                       : "you are not in talk group \"" + target->name + "\": talk to \"md\"");
      default: fail(ErrorCode::forbidden, "a " + role + " may not talk to one person: talk to \"md\" or your group");
    }
  }
  PttEntry entry{raw, talk_recipients(actor.participant, *target)};
  Outcome out;
  out.event_type = "ptt.state";
  out.event_data = ptt_state_json(actor.participant, &entry);
  out.mutations.push_back(Mutation{"ptt", actor.participant, ptt_record(entry), true});
  return out;
}

Outcome Room::plan_ptt_release(const std::string& participant) const {
  Outcome out;
  if (!ptt_.count(participant)) return out;
  out.event_type = "ptt.state";
  out.event_data = ptt_state_json(participant, nullptr);
  out.mutations.push_back(Mutation{"ptt", participant, std::nullopt, true});
  return out;
}

std::vector<Outcome> Room::plan_ptt_refresh() const {
  std::vector<Outcome> outs;
  for (const auto& [pid, entry] : ptt_) {
    auto target = parse_talk_target(entry.target);
    if (!target) continue;
    PttEntry next{entry.target, talk_recipients(pid, *target)};
    if (next.to == entry.to) continue;
    Outcome out;
    out.event_type = "ptt.state";
    out.event_data = ptt_state_json(pid, &next);
    out.mutations.push_back(Mutation{"ptt", pid, ptt_record(next), true});
    outs.push_back(std::move(out));
  }
  return outs;
}

namespace {
// Signalling is relayed, not parsed, but what is relayed must at least look like SDP / ICE.
void check_signalling(const Command& cmd) {
  const auto& d = cmd.data;
  if (const auto* sdp = d.if_contains("sdp")) {
    std::string_view s = sdp->as_string();
    if (!s.starts_with("v=0")) fail(ErrorCode::bad_request, cmd.type + ": sdp is not a session description (must start with v=0)");
    if (std::any_of(s.begin(), s.end(), [](char c) { return c == '\0'; }))
      fail(ErrorCode::bad_request, cmd.type + ": sdp contains a NUL byte");
  }
  if (const auto* cand = d.if_contains("candidate")) {
    const auto& c = cand->as_object();
    for (const auto& [k, v] : c) {
      if (k == "candidate" || k == "sdpMid" || k == "usernameFragment") {
        if (!v.is_string() && !v.is_null()) fail(ErrorCode::bad_request, "rtc.ice: candidate." + std::string(k) + " must be a string");
        if (v.is_string() && v.get_string().size() > 1024) fail(ErrorCode::too_large, "rtc.ice: candidate." + std::string(k) + " is longer than 1024 bytes");
      } else if (k == "sdpMLineIndex") {
        if (!v.is_null() && !(v.is_int64() && v.get_int64() >= 0 && v.get_int64() < 64) && !(v.is_uint64() && v.get_uint64() < 64))
          fail(ErrorCode::bad_request, "rtc.ice: candidate.sdpMLineIndex must be an integer 0..63");
      } else {
        fail(ErrorCode::bad_request, "rtc.ice: unknown candidate field \"" + std::string(k) + "\" (candidate, sdpMid, sdpMLineIndex, usernameFragment)");
      }
    }
    const auto* line = c.if_contains("candidate");
    if (!line || !line->is_string()) fail(ErrorCode::bad_request, "rtc.ice: candidate.candidate is missing (empty string = end of candidates)");
    std::string_view l = line->get_string();
    if (!l.empty() && !l.starts_with("candidate:")) fail(ErrorCode::bad_request, "rtc.ice: candidate.candidate must start with \"candidate:\"");
  }
}
}  // namespace

Outcome Room::plan_rtc(const Actor& actor, const Command& cmd) const {
  std::string to(cmd.data.at("to").as_string());
  const Participant* p = find_participant(to);
  if (!p || p->removed) fail(ErrorCode::not_found, "no participant " + to + " in this room");
  if (to == actor.participant) fail(ErrorCode::bad_request, cmd.type + ": cannot signal to yourself");
  if (!voice_role(p->role)) fail(ErrorCode::forbidden, cmd.type + ": " + to + " is a stage display and has no voice");
  if (!p->online) fail(ErrorCode::conflict, "participant " + to + " is offline");
  check_signalling(cmd);
  Outcome out;
  out.event_type = cmd.type;
  out.event_data = cmd.data;
  out.event_data.erase("to");
  out.event_data["from"] = actor.participant;
  out.audience = Audience::one;
  out.target = to;
  return out;
}

Outcome Room::plan_settings(const Command& cmd) const {
  const auto& d = cmd.data;
  json::object next = settings_json();
  if (const auto* v = d.if_contains("self_claim")) next["self_claim"] = v->as_bool();
  if (const auto* v = d.if_contains("talk_all")) {
    json::array roles;
    for (Role r : {Role::musician, Role::tech})  // one canonical order, no duplicates
      if (std::any_of(v->as_array().begin(), v->as_array().end(), [&](const json::value& x) { return x.as_string() == to_string(r); }))
        roles.push_back(json::value(to_string(r)));
    next["talk_all"] = std::move(roles);
  }
  if (const auto* v = d.if_contains("song_count_in")) next["song_count_in"] = v->to_number<std::int64_t>();
  if (const auto* v = d.if_contains("voice_path")) next["voice_path"] = v->as_string();
  Outcome out = announce("room.settings");
  out.event_data = {{"settings", next}};
  out.mutations.push_back(put("meta", "settings", next));
  return out;
}

// ---------------------------------------------------------------- presence

// Presence changes share one shape: the stored participant, changed, as one durable event.
Outcome Room::presence_change(const std::string& participant, const char* event_type, const Participant& next,
                              boost::json::object event_data) const {
  Outcome out = announce(event_type);
  out.event_data = std::move(event_data);
  out.mutations.push_back(put("participant", next.id, participant_record(next)));
  if (!next.online && ptt_.count(participant)) out.mutations.push_back(Mutation{"ptt", participant, std::nullopt, true});
  return out;
}

Participant Room::stored_participant(const std::string& participant) const {
  const Participant* p = find_participant(participant);
  if (!p) fail(ErrorCode::not_found, "no participant " + participant);
  return *p;
}

Outcome Room::plan_online(const std::string& participant) const {
  Participant next = stored_participant(participant);
  next.online = true;
  next.removed = false;
  next.kicked = false;
  return presence_change(participant, "participant.join", next, {{"participant", participant_json(next)}});
}

Outcome Room::plan_offline(const std::string& participant, std::int64_t now_us) const {
  Participant next = stored_participant(participant);
  next.online = false;
  next.last_seen = now_us;
  return presence_change(participant, "participant.leave", next, {{"participant", participant}, {"reason", "offline"}});
}

Outcome Room::plan_timeout(const std::string& participant) const {
  Participant next = stored_participant(participant);
  next.removed = true;
  next.online = false;
  return release_slot_of(participant,
                         presence_change(participant, "participant.leave", next, {{"participant", participant}, {"reason", "timeout"}}));
}

std::vector<std::string> Room::expired(std::int64_t now_us) const {
  std::vector<std::string> out;
  for (const auto& p : participants_)
    if (!p.removed && !p.online && now_us - p.last_seen >= cfg_.grace_us) out.push_back(p.id);
  return out;
}

Outcome Room::plan_clock_shift(std::int64_t delta_us) const {
  Outcome out;  // not an event: the same instants, written in the new clock
  TempoState t = tempo_;
  t.anchor_t += delta_us;
  if (t.prev) t.prev->anchor_t += delta_us;
  out.mutations.push_back(put("meta", "tempo", to_json(t)));
  for (const auto& p : participants_) {
    if (p.last_seen == 0) continue;
    Participant next = p;
    next.last_seen += delta_us;
    out.mutations.push_back(put("participant", p.id, participant_record(next)));
  }
  return out;
}

std::vector<std::string> Room::online_participants() const {
  std::vector<std::string> out;
  for (const auto& p : participants_)
    if (p.online) out.push_back(p.id);
  return out;
}

// ---------------------------------------------------------------- applying

void Room::apply(const Outcome& outcome, std::int64_t seq) {
  ++version_;
  for (const auto& m : outcome.mutations) apply_mutation(m);
  if (outcome.durable) seq_ = seq + static_cast<std::int64_t>(outcome.events_after.size());
}

void Room::apply_mutation(const Mutation& m) {
  ++version_;
  auto upsert = [&](auto& vec, auto value) {
    auto it = find_by_id(vec, m.id);
    if (it == vec.end())
      vec.push_back(std::move(value));
    else
      *it = std::move(value);
  };
  auto erase = [&](auto& vec) {
    auto it = find_by_id(vec, m.id);
    if (it != vec.end()) vec.erase(it);
  };
  if (m.kind == "participant") {
    if (m.value) upsert(participants_, participant_from_record(*m.value));
    else erase(participants_);
  } else if (m.kind == "slot") {
    if (m.value) upsert(slots_, slot_from_json(*m.value));
    else erase(slots_);
    std::stable_sort(slots_.begin(), slots_.end(), [](const Slot& a, const Slot& b) { return a.order < b.order; });
  } else if (m.kind == "song") {
    if (auto it = find_by_id(songs_, m.id); it != songs_.end()) library_bytes_ -= meta_bytes(*it);
    if (m.value) upsert(songs_, *m.value);
    else erase(songs_);
    if (m.value) library_bytes_ += meta_bytes(*m.value);
  } else if (m.kind == "setlist") {
    if (auto it = find_by_id(setlists_, m.id); it != setlists_.end()) library_bytes_ -= setlist_bytes(*it);
    if (m.value) upsert(setlists_, *m.value);
    else erase(setlists_);
    if (m.value) library_bytes_ += setlist_bytes(*m.value);
  } else if (m.kind == "meta") {
    if (m.id == "current") {
      if (!m.value) {
        song_current_.reset();
      } else {
        const auto& v = *m.value;
        song_current_ = SongCurrent{str_or(v, "setlist"), static_cast<int>(v.at("index").to_number<std::int64_t>()), str_or(v, "section")};
      }
    } else if (m.id == "tempo" && m.value) {
      tempo_ = tempo_from_json(*m.value);
    } else if (m.id == "settings" && m.value) {
      if (const auto* v = m.value->if_contains("self_claim"); v && v->is_bool()) self_claim_ = v->as_bool();
      if (const auto* v = m.value->if_contains("talk_all"); v && v->is_array()) {
        talk_all_.clear();
        for (const auto& r : v->get_array())
          if (auto role = r.is_string() ? role_from_string(r.get_string()) : std::nullopt) talk_all_.push_back(*role);
      }
      if (const auto* v = m.value->if_contains("song_count_in"); v && v->is_number())
        song_count_in_ = static_cast<int>(std::clamp<std::int64_t>(v->to_number<std::int64_t>(), 0, kMaxCountInBars));
      // A room stored before the setting existed keeps the default (dc).
      if (const auto* v = m.value->if_contains("voice_path"); v && v->is_string() && (v->get_string() == "dc" || v->get_string() == "rtp"))
        voice_path_ = std::string(v->get_string());
    } else if (m.id == "cues") {
      const auto* v = m.value ? m.value->if_contains("cues") : nullptr;
      cues_ = v && v->is_array() ? v->get_array() : json::array{};
    } else if (m.id == "room" && m.value) {
      name_ = str_or(*m.value, "name", name_);
    }
  } else if (m.kind == "ptt") {
    if (m.value) {
      PttEntry e{str_or(*m.value, "target"), {}};
      if (const auto* to = m.value->if_contains("to"); to && to->is_array())
        for (const auto& v : to->get_array())
          if (v.is_string()) e.to.emplace_back(v.get_string());
      ptt_[m.id] = std::move(e);
    } else {
      ptt_.erase(m.id);
    }
  } else if (m.kind == "health") {
    if (m.value) health_[m.id] = Health{m.value->at("report").as_object(), m.value->at("at").to_number<std::int64_t>()};
    else health_.erase(m.id);
  }
}

}  // namespace downbeat::core
