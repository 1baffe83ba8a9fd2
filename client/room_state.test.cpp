#include "downbeat/room_state.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace downbeat;
namespace json = boost::json;

namespace {

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

RoomState snapshot() {
  RoomState s;
  s.apply_snapshot(obj(R"({"seq":10,"room":{"id":"r1","name":"Rehearsal","settings":{"self_claim":true}},
    "participants":[{"id":"p1","name":"Ana","role":"md","online":true,"slot":null},
                    {"id":"p2","name":"Ben","role":"musician","online":true,"slot":"s1"}],
    "slots":[{"id":"s1","name":"Keys","instrument":null,"group":null,"transpose":0,"participant":"p2"},
             {"id":"s2","name":"Drums","instrument":null,"group":null,"transpose":0,"participant":null}],
    "songs":[],"setlists":[],"active_setlist":null,"song_current":null,
    "tempo":{"running":false,"bpm":120.0,"meter":{"beats":4,"unit":4},"accents":[],"subdivision":1,
             "count_in_bars":0,"anchor":{"t":0,"bar":0},"rev":0,"prev":null},"ptt":[]})"));
  return s;
}

}  // namespace

TEST(RoomState, SnapshotIsTheWholeRoom) {
  auto s = snapshot();
  EXPECT_TRUE(s.has_snapshot);
  EXPECT_EQ(s.seq, 10);
  EXPECT_EQ(s.participants.size(), 2u);
  ASSERT_TRUE(s.tempo);
  EXPECT_FALSE(s.tempo->running);
  EXPECT_EQ(s.room.at("name").as_string(), "Rehearsal");
}

TEST(RoomState, AssignMovesAParticipantOutOfTheirOldSlot) {
  auto s = snapshot();
  s.apply_event("slot.assign", obj(R"({"slot":{"id":"s2","name":"Drums","participant":"p2"}})"));
  EXPECT_TRUE(s.slot("s1")->at("participant").is_null());
  EXPECT_EQ(s.slot("s2")->at("participant").as_string(), "p2");
  EXPECT_EQ(s.participant("p2")->at("slot").as_string(), "s2");
}

TEST(RoomState, OfflineKeepsTheParticipantTimeoutRemovesThem) {
  auto s = snapshot();
  s.apply_event("participant.leave", obj(R"({"participant":"p2","reason":"offline"})"));
  ASSERT_TRUE(s.participant("p2"));
  EXPECT_FALSE(s.participant("p2")->at("online").as_bool());
  s.apply_event("participant.leave", obj(R"({"participant":"p2","reason":"timeout"})"));
  EXPECT_FALSE(s.participant("p2"));
  EXPECT_TRUE(s.slot("s1")->at("participant").is_null());
}

TEST(RoomState, SongsAndSetlistsUpsertAndDelete) {
  auto s = snapshot();
  s.apply_event("song.create", obj(R"({"song":{"id":"g1","title":"Amazing"}})"));
  s.apply_event("song.update", obj(R"({"song":{"id":"g1","title":"Amazing Grace"}})"));
  ASSERT_EQ(s.songs.size(), 1u);
  EXPECT_EQ(s.songs[0].at("title").as_string(), "Amazing Grace");
  s.apply_event("setlist.update", obj(R"({"setlist":{"id":"l1","title":"Sunday","items":[{"song":"g1"}]}})"));
  s.apply_event("song.current", obj(R"({"setlist":"l1","index":0,"section":"Verse 1"})"));
  EXPECT_EQ(s.song_current.at("section").as_string(), "Verse 1");
  s.apply_event("song.delete", obj(R"({"id":"g1"})"));
  EXPECT_TRUE(s.songs.empty());
}

TEST(RoomState, ALateOlderAnchorNeverRollsTheTempoBack) {
  auto s = snapshot();
  s.apply_event("tempo.anchor", obj(R"({"tempo":{"running":true,"bpm":128.0,"meter":{"beats":4,"unit":4},"accents":[],
      "subdivision":1,"count_in_bars":0,"anchor":{"t":5000000,"bar":0},"rev":2,"prev":null}})"));
  s.apply_event("tempo.anchor", obj(R"({"tempo":{"running":true,"bpm":90.0,"meter":{"beats":4,"unit":4},"accents":[],
      "subdivision":1,"count_in_bars":0,"anchor":{"t":4000000,"bar":0},"rev":1,"prev":null}})"));
  ASSERT_TRUE(s.tempo);
  EXPECT_EQ(s.tempo->rev, 2);
  EXPECT_EQ(s.tempo->bpm, 128.0);
}
