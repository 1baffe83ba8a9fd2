// Room rules: slots, songs and setlists, presence and its grace period — driven without any I/O.
#include <gtest/gtest.h>

#include "core/room.hpp"

using namespace downbeat::core;
namespace json = boost::json;

namespace {
class RoomTest : public ::testing::Test {
 protected:
  RoomTest() : room_("r1", "Rehearsal", RoomConfig{300'000, 60'000'000}) {
    add("md1", Role::md);
    add("mu1", Role::musician);
    add("mu2", Role::musician);
  }
  void add(const std::string& id, Role role) {
    Participant p{id, id, "dev-" + id, role, false, 0, true, false};
    room_.apply_mutation(Mutation{"participant", id, Room::participant_record(p), false});
    run(room_.plan_online(id));
  }
  Outcome run(const Outcome& out) {
    room_.apply(out, out.durable ? room_.seq() + 1 : 0);
    return out;
  }
  Outcome cmd(const std::string& who, const std::string& type, json::object data, std::int64_t now = 1'000'000) {
    auto parsed = parse_frame(json::serialize(json::object{{"type", type}, {"id", "c"}, {"data", data}}), Schema::builtin());
    if (parsed.error) throw CommandError(parsed.error->code, parsed.error->message);
    return run(room_.plan(Actor{who, room_.find_participant(who)->role}, *parsed.command, now));
  }
  ErrorCode fails(const std::string& who, const std::string& type, json::object data) {
    std::int64_t seq = room_.seq();
    auto snapshot = json::serialize(room_.snapshot());
    try {
      cmd(who, type, std::move(data));
    } catch (const CommandError& e) {
      EXPECT_EQ(room_.seq(), seq) << "a refused command must not change the room";
      EXPECT_EQ(json::serialize(room_.snapshot()), snapshot) << "a refused command must not change the room";
      return e.code();
    }
    ADD_FAILURE() << type << " should have failed";
    return ErrorCode::internal;
  }
  std::string new_slot(const std::string& name) {
    auto out = cmd("md1", "slot.create", {{"name", name}, {"group", "band"}});
    return std::string(out.event_data.at("slot").at("id").as_string());
  }
  std::string new_song(const std::string& title) {
    auto out = cmd("md1", "song.create", {{"title", title}, {"key", "G"}, {"bpm", 72}});
    return std::string(out.event_data.at("song").at("id").as_string());
  }
  Room room_;
};
}  // namespace

TEST_F(RoomTest, SeqIncreasesByOnePerDurableEventOnly) {
  std::int64_t before = room_.seq();
  new_slot("Keys");
  EXPECT_EQ(room_.seq(), before + 1);
  cmd("md1", "cue", {{"text", "Chorus"}});
  EXPECT_EQ(room_.seq(), before + 1) << "cues are ephemeral";
}

TEST_F(RoomTest, MdAssignsAndAParticipantHoldsOneSlot) {
  auto keys = new_slot("Keys"), drums = new_slot("Drums");
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}});
  EXPECT_EQ(room_.find_slot(keys)->participant, "mu1");
  auto out = cmd("md1", "slot.assign", {{"slot", drums}, {"participant", "mu1"}});
  EXPECT_EQ(room_.find_slot(drums)->participant, "mu1");
  EXPECT_EQ(room_.find_slot(keys)->participant, "") << "moving a participant frees their old slot";
  EXPECT_EQ(room_.participant_json(*room_.find_participant("mu1")).at("slot").as_string(), drums);
}

TEST_F(RoomTest, MusicianClaimsAFreeSlotButNotATakenOne) {
  auto keys = new_slot("Keys");
  cmd("mu1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}});
  EXPECT_EQ(fails("mu2", "slot.assign", {{"slot", keys}, {"participant", "mu2"}}), ErrorCode::conflict);
  EXPECT_EQ(fails("mu2", "slot.assign", {{"slot", keys}, {"participant", "mu1"}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("mu2", "slot.release", {{"slot", keys}}), ErrorCode::forbidden);
  cmd("mu1", "slot.release", {{"slot", keys}});
  EXPECT_EQ(room_.find_slot(keys)->participant, "");
}

TEST_F(RoomTest, SelfClaimCanBeTurnedOff) {
  room_.apply_mutation(Mutation{"meta", "settings", json::object{{"self_claim", false}}, false});
  auto keys = new_slot("Keys");
  EXPECT_EQ(fails("mu1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}}), ErrorCode::forbidden);
}

TEST_F(RoomTest, DuplicateSlotNameIsAConflict) {
  new_slot("Keys");
  EXPECT_EQ(fails("md1", "slot.create", {{"name", "Keys"}}), ErrorCode::conflict);
}

TEST_F(RoomTest, SetlistNeedsKnownSongsAndSongCurrentAValidIndex) {
  auto a = new_song("A"), b = new_song("B");
  EXPECT_EQ(fails("md1", "setlist.update", {{"title", "Sunday"}, {"items", json::array{{{"song", "sg404"}}}}}), ErrorCode::not_found);
  auto out = cmd("md1", "setlist.update", {{"title", "Sunday"}, {"items", json::array{{{"song", a}}, {{"song", b}, {"key", "A"}}}}});
  std::string sl(out.event_data.at("setlist").at("id").as_string());
  cmd("md1", "song.current", {{"setlist", sl}, {"index", 1}, {"section", "Verse 1"}});
  EXPECT_EQ(room_.song_current()->index, 1);
  EXPECT_EQ(room_.song_current()->section, "Verse 1");
  EXPECT_EQ(fails("md1", "song.current", {{"setlist", sl}, {"index", 2}}), ErrorCode::not_found);
  // Reorder: same id, new items.
  cmd("md1", "setlist.update", {{"id", sl}, {"title", "Sunday AM"}, {"items", json::array{{{"song", b}}, {{"song", a}}}}});
  const auto* s = room_.find_setlist(sl);
  EXPECT_EQ(s->at("title").as_string(), "Sunday AM");
  EXPECT_EQ(s->at("items").as_array()[0].at("song").as_string(), b);
}

TEST_F(RoomTest, SongInASetlistCannotBeDeleted) {
  auto a = new_song("A");
  cmd("md1", "setlist.update", {{"title", "Sunday"}, {"items", json::array{{{"song", a}}}}});
  EXPECT_EQ(fails("md1", "song.delete", {{"id", a}}), ErrorCode::conflict);
}

TEST_F(RoomTest, SongUpdateKeepsUnchangedFields) {
  auto a = new_song("A");
  cmd("md1", "song.update", {{"id", a}, {"bpm", 80}});
  EXPECT_EQ(room_.find_song(a)->at("title").as_string(), "A");
  EXPECT_EQ(room_.find_song(a)->at("bpm").to_number<double>(), 80.0);
}

TEST_F(RoomTest, DeletingTheCurrentSetlistClearsTheCurrentSong) {
  auto a = new_song("A");
  auto out = cmd("md1", "setlist.update", {{"title", "S"}, {"items", json::array{{{"song", a}}}}});
  std::string sl(out.event_data.at("setlist").at("id").as_string());
  cmd("md1", "song.current", {{"setlist", sl}, {"index", 0}});
  cmd("md1", "setlist.delete", {{"id", sl}});
  EXPECT_FALSE(room_.song_current());
}

TEST_F(RoomTest, DroppedParticipantIsAwayThenRemovedAfterGrace) {
  auto keys = new_slot("Keys");
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}});
  run(room_.plan_offline("mu1", 10'000'000));
  const auto& p = *room_.find_participant("mu1");
  EXPECT_FALSE(p.online);
  EXPECT_FALSE(p.removed) << "still listed as away during the grace period";
  EXPECT_TRUE(room_.expired(10'000'000 + 59'000'000).empty());
  auto gone = room_.expired(10'000'000 + 60'000'000);
  ASSERT_EQ(gone, std::vector<std::string>{"mu1"});
  auto out = run(room_.plan_timeout("mu1"));
  EXPECT_EQ(out.event_data.at("reason").as_string(), "timeout");
  EXPECT_TRUE(room_.find_participant("mu1")->removed);
  EXPECT_EQ(room_.find_slot(keys)->participant, "") << "a timed-out participant's slot is freed";
  auto snap = room_.snapshot();
  for (const auto& pj : snap.at("participants").as_array()) EXPECT_NE(pj.at("id").as_string(), "mu1");
}

TEST_F(RoomTest, ReturningWithinGraceKeepsTheSlot) {
  auto keys = new_slot("Keys");
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}});
  run(room_.plan_offline("mu1", 10'000'000));
  run(room_.plan_online("mu1"));
  EXPECT_TRUE(room_.expired(10'000'000 + 120'000'000).empty());
  EXPECT_EQ(room_.find_slot(keys)->participant, "mu1");
}

TEST_F(RoomTest, KickRemovesReleasesAndRevokes) {
  auto keys = new_slot("Keys");
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu2"}});
  auto out = cmd("md1", "participant.kick", {{"participant", "mu2"}});
  EXPECT_EQ(out.event_type, "participant.leave");
  EXPECT_EQ(out.event_data.at("reason").as_string(), "kicked");
  EXPECT_EQ(out.disconnect, std::vector<std::string>{"mu2"});
  EXPECT_TRUE(std::any_of(out.mutations.begin(), out.mutations.end(), [](const Mutation& m) { return m.kind == "revoke_tokens"; }));
  EXPECT_TRUE(room_.find_participant("mu2")->kicked);
  EXPECT_EQ(room_.find_slot(keys)->participant, "");
  EXPECT_EQ(fails("md1", "participant.kick", {{"participant", "md1"}}), ErrorCode::bad_request);
}

TEST_F(RoomTest, CueToAGroupIsAddressed) {
  auto out = cmd("md1", "cue", {{"text", "Tag"}, {"group", "vocals"}, {"color", "red"}});
  EXPECT_EQ(out.audience, Audience::group);
  EXPECT_EQ(out.target, "vocals");
  EXPECT_EQ(out.event_data.at("from").as_string(), "md1");
}

TEST_F(RoomTest, PttTargetsAreChecked) {
  new_slot("Keys");  // group "band"
  EXPECT_EQ(fails("mu1", "ptt.press", {{"target", "all"}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("mu1", "ptt.press", {{"target", "nosuchgroup"}}), ErrorCode::not_found);
  cmd("mu1", "ptt.press", {{"target", "band"}});
  EXPECT_EQ(room_.ptt().at("mu1"), "band");
  cmd("mu1", "ptt.release", {});
  EXPECT_TRUE(room_.ptt().empty());
}

TEST_F(RoomTest, RtcIsRelayedOnlyToItsTarget) {
  auto out = cmd("mu1", "rtc.offer", {{"to", "md1"}, {"sdp", "v=0"}});
  EXPECT_EQ(out.audience, Audience::one);
  EXPECT_EQ(out.target, "md1");
  EXPECT_EQ(out.event_data.at("from").as_string(), "mu1");
  EXPECT_FALSE(out.event_data.contains("to"));
  EXPECT_EQ(fails("mu1", "rtc.offer", {{"to", "pnobody"}, {"sdp", "v=0"}}), ErrorCode::not_found);
}

TEST_F(RoomTest, SnapshotRoundTripsThroughStoredRecords) {
  auto keys = new_slot("Keys");
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}});
  auto a = new_song("A");
  cmd("md1", "setlist.update", {{"title", "S"}, {"items", json::array{{{"song", a}}}}});
  // Rebuild a second room from the same mutations a database would hold.
  Room copy("r1", "Rehearsal");
  for (const auto& p : room_.participants()) copy.apply_mutation(Mutation{"participant", p.id, Room::participant_record(p), false});
  for (const auto& s : room_.slots()) copy.apply_mutation(Mutation{"slot", s.id, Room::slot_json(s), false});
  copy.apply_mutation(Mutation{"song", a, *room_.find_song(a), false});
  auto snap = room_.snapshot();
  for (const auto& sl : snap.at("setlists").as_array())
    copy.apply_mutation(Mutation{"setlist", std::string(sl.at("id").as_string()), sl.as_object(), false});
  copy.set_seq(room_.seq());
  EXPECT_EQ(json::serialize(copy.snapshot()), json::serialize(room_.snapshot()));
}
