#include "downbeat/room_state.hpp"

#include <algorithm>

namespace downbeat {
namespace json = boost::json;

namespace {

std::string_view id_of(const json::value& v, std::string_view key = "id") {
  if (!v.is_object()) return {};
  auto* id = v.as_object().if_contains(key);
  return id && id->is_string() ? std::string_view(id->as_string()) : std::string_view{};
}

// Works on const and mutable arrays alike.
template <class Array>
auto find(Array& list, std::string_view id, std::string_view key = "id") -> decltype(&list.begin()->as_object()) {
  for (auto& v : list) {
    if (!id.empty() && id_of(v, key) == id) return &v.as_object();
  }
  return nullptr;
}

void upsert(json::array& list, const json::object& obj, std::string_view key = "id") {
  auto* id = obj.if_contains(key);
  if (!id || !id->is_string()) return;
  if (auto* existing = find(list, id->as_string(), key)) {
    *existing = obj;
  } else {
    list.push_back(obj);
  }
}

void erase(json::array& list, std::string_view id, std::string_view key = "id") {
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (id_of(*it, key) == id) {
      list.erase(it);
      return;
    }
  }
}

json::array array_or_empty(const json::object& data, std::string_view key) {
  auto* v = data.if_contains(key);
  return v && v->is_array() ? v->as_array() : json::array{};
}

const json::object* object_at(const json::object& data, std::string_view key) {
  auto* v = data.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::string_view string_at(const json::object& data, std::string_view key) {
  auto* v = data.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view{};
}

// A participant holds at most one slot: keep participants[].slot and slots[].participant consistent.
void set_holder(json::array& slots, json::array& participants, const json::object& slot) {
  const auto slot_id = string_at(slot, "id");
  const auto holder = string_at(slot, "participant");
  for (auto& p : participants) {
    auto& po = p.as_object();
    if (string_at(po, "slot") == slot_id) po["slot"] = nullptr;
  }
  if (!holder.empty()) {
    for (auto& s : slots) {
      auto& so = s.as_object();
      if (string_at(so, "participant") == holder && string_at(so, "id") != slot_id) so["participant"] = nullptr;
    }
    if (auto* p = find(participants, holder)) (*p)["slot"] = json::string(slot_id);
  }
}

}  // namespace

void RoomState::apply_snapshot(const json::object& data) {
  if (auto* s = data.if_contains("seq"); s && s->is_int64()) seq = s->as_int64();
  if (auto* r = object_at(data, "room")) room = *r;
  participants = array_or_empty(data, "participants");
  slots = array_or_empty(data, "slots");
  songs = array_or_empty(data, "songs");
  setlists = array_or_empty(data, "setlists");
  ptt = array_or_empty(data, "ptt");
  cues = array_or_empty(data, "cues");
  active_setlist = data.contains("active_setlist") ? data.at("active_setlist") : json::value(nullptr);
  song_current = data.contains("song_current") ? data.at("song_current") : json::value(nullptr);
  if (active_setlist.is_null() && song_current.is_object() && song_current.as_object().contains("setlist"))
    active_setlist = song_current.at("setlist");
  if (auto* t = data.if_contains("tempo"); t && t->is_object()) {
    tempo = core::tempo_from_json(*t);
  } else {
    tempo.reset();
  }
  has_snapshot = true;
}

bool RoomState::apply_event(std::string_view type, const json::object& data) {
  if (type == "participant.join") {
    if (auto* p = object_at(data, "participant")) upsert(participants, *p);
  } else if (type == "participant.leave") {
    const auto id = string_at(data, "participant");
    if (string_at(data, "reason") == "offline") {
      if (auto* p = find(participants, id)) (*p)["online"] = false;
    } else {
      erase(participants, id);
      for (auto& s : slots) {
        auto& so = s.as_object();
        if (string_at(so, "participant") == id) so["participant"] = nullptr;
      }
    }
  } else if (type == "slot.create" || type == "slot.update" || type == "slot.assign" || type == "slot.release") {
    if (auto* s = object_at(data, "slot")) {
      upsert(slots, *s);
      set_holder(slots, participants, *s);
    }
  } else if (type == "slot.order") {
    // The MD's new order; a slot the list does not name stays, after the named ones.
    if (const auto* ids = data.if_contains("slots"); ids && ids->is_array()) {
      boost::json::array sorted;
      for (const auto& id : ids->as_array())
        for (auto& sl : slots)
          if (id.is_string() && string_at(sl.as_object(), "id") == id.as_string()) sorted.push_back(sl);
      for (const auto& sl : slots)
        if (std::none_of(sorted.begin(), sorted.end(), [&](const boost::json::value& x) { return string_at(x.as_object(), "id") == string_at(sl.as_object(), "id"); }))
          sorted.push_back(sl);
      slots = std::move(sorted);
    }
  } else if (type == "slot.delete") {
    const auto id = string_at(data, "slot");
    erase(slots, id);
    for (auto& p : participants) {
      auto& po = p.as_object();
      if (string_at(po, "slot") == id) po["slot"] = nullptr;
    }
  } else if (type == "song.create" || type == "song.update") {
    if (auto* s = object_at(data, "song")) upsert(songs, *s);
  } else if (type == "song.delete") {
    erase(songs, string_at(data, "id"));
  } else if (type == "setlist.update") {
    if (auto* s = object_at(data, "setlist")) upsert(setlists, *s);
  } else if (type == "setlist.delete") {
    // Deleting the setlist being played ends the current song, as on the server (docs/protocol.md).
    const auto id = string_at(data, "id");
    erase(setlists, id);
    if (song_current.is_object() && string_at(song_current.as_object(), "setlist") == id) song_current = nullptr;
    if (active_setlist.is_string() && active_setlist.as_string() == id) active_setlist = nullptr;
  } else if (type == "song.current") {
    json::object cur = data;
    if (!cur.contains("section")) cur["section"] = nullptr;
    song_current = std::move(cur);
    active_setlist = data.contains("setlist") ? data.at("setlist") : json::value(nullptr);
  } else if (type == "tempo.anchor") {
    auto* t = data.if_contains("tempo");
    if (!t || !t->is_object()) return false;
    auto next = core::tempo_from_json(*t);
    // Re-sent anchors carry the same rev; an older rev arriving late must not roll the tempo back.
    if (tempo && next.rev < tempo->rev) return false;
    tempo = std::move(next);
  } else if (type == "ptt.state") {
    // Like the snapshot's ptt: only who is talking now.
    const auto* talking = data.if_contains("talking");
    if (talking && talking->is_bool() && talking->as_bool()) upsert(ptt, data, "participant");
    else erase(ptt, string_at(data, "participant"), "participant");
  } else if (type == "cue") {
    // A cue to everyone replaces every current cue; a cue to a group replaces that group's.
    const auto* cue = object_at(data, "cue");
    if (!cue) return false;
    const auto group = string_at(*cue, "group");
    json::array next;
    if (!group.empty())
      for (const auto& c : cues)
        if (c.is_object() && string_at(c.as_object(), "group") != group) next.push_back(c);
    next.push_back(*cue);
    cues = std::move(next);
  } else if (type == "cue.clear") {
    const auto group = string_at(data, "group");
    if (group.empty()) {
      cues.clear();
    } else {
      json::array next;
      for (const auto& c : cues)
        if (c.is_object() && string_at(c.as_object(), "group") != group) next.push_back(c);
      cues = std::move(next);
    }
  } else if (type == "room.settings") {
    if (auto* st = object_at(data, "settings")) room["settings"] = *st;
  } else {
    return false;
  }
  return true;
}

const json::object* RoomState::participant(std::string_view id) const {
  return find(participants, id);
}

const json::object* RoomState::slot(std::string_view id) const { return find(slots, id); }

}  // namespace downbeat
