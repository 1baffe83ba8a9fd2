#pragma once
// The client's copy of a room: a snapshot plus the durable events applied in seq order.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/tempo.hpp"

namespace downbeat {

struct RoomState {
  int64_t seq = 0;            // last durable event applied (resume with since=seq)
  bool has_snapshot = false;  // false until the first snapshot
  boost::json::object room;   // {id, name, settings}
  boost::json::array participants;
  boost::json::array slots;
  boost::json::array songs;
  boost::json::array setlists;
  boost::json::value active_setlist;
  boost::json::value song_current;
  std::optional<core::TempoState> tempo;
  boost::json::array ptt;
  boost::json::array cues;  // the current cue per group (group null = everyone): Cue {id, from, text, color, group, at}

  void apply_snapshot(const boost::json::object& data);
  // Applies one event's data; returns false for types that do not change the room (pong, rtc.*, …).
  bool apply_event(std::string_view type, const boost::json::object& data);

  const boost::json::object* participant(std::string_view id) const;
  const boost::json::object* slot(std::string_view id) const;
};

}  // namespace downbeat
