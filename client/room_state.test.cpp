#include "downbeat/room_state.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

TEST(RoomState, SlotUpdateEditsInPlaceAndKeepsTheHolder) {
  auto s = snapshot();
  EXPECT_TRUE(s.apply_event("slot.update", obj(R"({"slot":{"id":"s1","name":"Keys","instrument":null,"group":null,
      "transpose":0,"capo":3,"pitch":"Bb","participant":"p2"}})")));
  EXPECT_EQ(s.slot("s1")->at("capo").as_int64(), 3);
  EXPECT_EQ(s.slot("s1")->at("pitch").as_string(), "Bb");
  EXPECT_EQ(s.participant("p2")->at("slot").as_string(), "s1");
}

TEST(RoomState, AMoveIsAReleaseThenAnAssign) {
  auto s = snapshot();
  s.apply_event("slot.release", obj(R"({"slot":{"id":"s1","name":"Keys","participant":null}})"));
  s.apply_event("slot.assign", obj(R"({"slot":{"id":"s2","name":"Drums","participant":"p2"}})"));
  EXPECT_TRUE(s.slot("s1")->at("participant").is_null());
  EXPECT_EQ(s.participant("p2")->at("slot").as_string(), "s2");
}

TEST(RoomState, SlotOrderListsTheSlotsAsTheMdOrderedThem) {
  auto s = snapshot();
  EXPECT_TRUE(s.apply_event("slot.order", obj(R"({"slots":["s2","s1"]})")));
  ASSERT_EQ(s.slots.size(), 2u);
  EXPECT_EQ(s.slots[0].at("id").as_string(), "s2");
  EXPECT_EQ(s.slots[1].at("id").as_string(), "s1");
  // An order that misses a slot (it was made meanwhile) keeps that slot, after the named ones.
  EXPECT_TRUE(s.apply_event("slot.order", obj(R"({"slots":["s1"]})")));
  EXPECT_EQ(s.slots[0].at("id").as_string(), "s1");
  EXPECT_EQ(s.slots[1].at("id").as_string(), "s2");
}

namespace {
std::string texts(const json::array& cues) {
  std::string out;
  for (const auto& c : cues) out += std::string(c.at("text").as_string()) + ";";
  return out;
}
json::object cue(std::string_view id, std::string_view text, std::string_view group) {
  json::object c{{"id", id}, {"from", "p1"}, {"text", text}, {"color", "red"}, {"at", 1}};
  c["group"] = group.empty() ? json::value(nullptr) : json::value(group);
  return {{"cue", c}};
}
}  // namespace

TEST(RoomState, CuesArePerGroupAndComeWithTheSnapshot) {
  auto s = snapshot();
  EXPECT_TRUE(s.cues.empty());
  EXPECT_TRUE(s.apply_event("cue", cue("cu11", "Tag", "band")));
  s.apply_event("cue", cue("cu12", "Check", "tech"));
  EXPECT_EQ(texts(s.cues), "Tag;Check;");
  s.apply_event("cue", cue("cu13", "Out", "band"));
  EXPECT_EQ(texts(s.cues), "Check;Out;") << "a group cue replaces that group's";
  EXPECT_TRUE(s.apply_event("cue.clear", obj(R"({"group":"tech"})")));
  EXPECT_EQ(texts(s.cues), "Out;");
  s.apply_event("cue", cue("cu15", "Stop", ""));
  EXPECT_EQ(texts(s.cues), "Stop;") << "a cue to everyone replaces every cue";
  s.apply_event("cue.clear", obj(R"({"group":null})"));
  EXPECT_TRUE(s.cues.empty());

  RoomState late;
  late.apply_snapshot(obj(R"({"seq":20,"room":{"id":"r1","name":"R"},"participants":[],"slots":[],"songs":[],"setlists":[],
    "active_setlist":null,"song_current":null,"tempo":null,"ptt":[],
    "cues":[{"id":"cu19","from":"p1","text":"Bridge","color":"blue","group":null,"at":7}]})"));
  EXPECT_EQ(texts(late.cues), "Bridge;") << "a late joiner sees the current cue";
}

// The same vectors as web/src/state.test.ts: both reducers must end in the same room.
TEST(RoomState, SharedReducerVectors) {
  // A path, not string +: GCC 12 -O2 reports a false -Warray-bounds for some lengths of the source dir.
  std::ifstream in(std::filesystem::path(DOWNBEAT_SOURCE_DIR) / "protocol" / "vectors" / "room_events.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto vectors = json::parse(ss.str()).as_object();
  const auto& cases = vectors.at("cases").as_array();
  ASSERT_GE(cases.size(), 5u);
  for (const auto& c : cases) {
    const auto& name = c.at("name").as_string();
    RoomState s;
    s.apply_snapshot(vectors.at("snapshot").as_object());
    for (const auto& ev : c.at("events").as_array()) {
      const auto& e = ev.as_object();
      EXPECT_TRUE(s.apply_event(e.at("type").as_string(), e.at("data").as_object())) << name << ": " << e.at("type").as_string();
      s.seq = e.at("seq").as_int64();  // what Client does for an event with a seq
    }
    const auto& expect = c.at("expect").as_object();
    if (const auto* cues = expect.if_contains("cues")) {
      std::vector<std::string> got, want;
      for (const auto& q : s.cues)
        got.push_back((q.at("group").is_null() ? std::string("*") : std::string(q.at("group").as_string())) + ":" + std::string(q.at("text").as_string()));
      for (const auto& w : cues->as_array()) want.emplace_back(w.as_string());
      EXPECT_EQ(got, want) << name;
    }
    if (const auto* holders = expect.if_contains("holders"))
      for (const auto& [slot, holder] : holders->as_object()) {
        ASSERT_TRUE(s.slot(slot)) << name << ": " << slot;
        EXPECT_EQ(json::serialize(s.slot(slot)->at("participant")), json::serialize(holder)) << name << ": " << slot;
      }
    if (const auto* ps = expect.if_contains("participant_slots"))
      for (const auto& [p, slot] : ps->as_object()) {
        ASSERT_TRUE(s.participant(p)) << name << ": " << p;
        EXPECT_EQ(json::serialize(s.participant(p)->at("slot")), json::serialize(slot)) << name << ": " << p;
      }
    if (const auto* slots = expect.if_contains("slots")) {
      for (const auto& [slot, fields] : slots->as_object()) {
        for (const auto& [k, v] : fields.as_object()) {
          EXPECT_EQ(json::serialize(s.slot(slot)->at(k)), json::serialize(v)) << name << ": " << slot << "." << k;
        }
      }
    }
    if (const auto* seq = expect.if_contains("seq")) {
      EXPECT_EQ(s.seq, seq->as_int64()) << name;
    }
    auto song = [&](std::string_view id) -> const json::object* {
      for (const auto& x : s.songs)
        if (x.at("id").as_string() == id) return &x.as_object();
      return nullptr;
    };
    if (const auto* songs = expect.if_contains("songs")) {
      for (const auto& [id, fields] : songs->as_object()) {
        ASSERT_TRUE(song(id)) << name << ": " << id;
        for (const auto& [k, v] : fields.as_object()) EXPECT_EQ(json::serialize(song(id)->at(k)), json::serialize(v)) << name << ": " << id << "." << k;
      }
    }
    if (expect.contains("no_bodies")) {
      for (const auto& x : s.songs) EXPECT_FALSE(x.as_object().contains("chordpro")) << name;
    }
    if (const auto* want = expect.if_contains("setlists")) {
      json::array ids;
      for (const auto& x : s.setlists) ids.push_back(x.at("id"));
      EXPECT_EQ(json::serialize(ids), json::serialize(*want)) << name;
    }
    if (const auto* want = expect.if_contains("song_current")) {
      EXPECT_EQ(json::serialize(s.song_current), json::serialize(*want)) << name;
    }
    if (const auto* want = expect.if_contains("active_setlist")) {
      EXPECT_EQ(json::serialize(s.active_setlist), json::serialize(*want)) << name;
    }
  }
}
