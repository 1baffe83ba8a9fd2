// Room rules: slots, songs and setlists, presence and its grace period — driven without any I/O.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/room.hpp"

using namespace downbeat::core;
namespace json = boost::json;

namespace {
// Every event the room produces is what protocol/schema.json promises the clients (events[type].data).
void expect_schema_events(const Outcome& out) {
  auto check = [](const std::string& type, const json::object& data) {
    if (type.empty()) return;
    EXPECT_EQ(Schema::builtin().validate_event(type, data), "") << type << " " << json::serialize(data);
  };
  for (const auto& e : out.events_before) check(e.type, e.data);
  check(out.event_type, out.event_data);
  for (const auto& e : out.events_after) check(e.type, e.data);
}

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
  // Whatever a test did, a late joiner's snapshot still has the schema's shape.
  void TearDown() override { EXPECT_EQ(Schema::builtin().validate_event("snapshot", room_.snapshot()), ""); }
  Outcome run(const Outcome& out) {
    expect_schema_events(out);
    room_.apply(out, out.durable ? room_.seq() + 1 + static_cast<std::int64_t>(out.events_before.size()) : 0);
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
  cmd("md1", "ptt.press", {{"target", "all"}});
  EXPECT_EQ(room_.seq(), before + 1) << "talk is live only";
  cmd("md1", "cue", {{"text", "Chorus"}});
  EXPECT_EQ(room_.seq(), before + 2) << "cues are durable";
}

TEST_F(RoomTest, MdAssignsAndAParticipantHoldsOneSlot) {
  auto keys = new_slot("Keys"), drums = new_slot("Drums");
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}});
  EXPECT_EQ(room_.find_slot(keys)->participant, "mu1");
  // Assigning someone who holds another slot is refused unless the MD says move.
  EXPECT_EQ(fails("md1", "slot.assign", {{"slot", drums}, {"participant", "mu1"}}), ErrorCode::conflict);
  try {
    cmd("md1", "slot.assign", {{"slot", drums}, {"participant", "mu1"}});
  } catch (const CommandError& e) {
    EXPECT_STREQ(e.what(), "mu1 already holds Keys; assign again with move to move them");
  }
  std::int64_t seq = room_.seq();
  auto out = cmd("md1", "slot.assign", {{"slot", drums}, {"participant", "mu1"}, {"move", true}});
  EXPECT_EQ(room_.find_slot(drums)->participant, "mu1");
  EXPECT_EQ(room_.find_slot(keys)->participant, "") << "moving a participant frees their old slot";
  EXPECT_EQ(room_.participant_json(*room_.find_participant("mu1")).at("slot").as_string(), drums);
  ASSERT_EQ(out.events_before.size(), 1u) << "the old slot's release is its own event";
  EXPECT_EQ(out.events_before[0].type, "slot.release");
  EXPECT_EQ(out.events_before[0].data.at("slot").at("id").as_string(), keys);
  EXPECT_TRUE(out.events_before[0].data.at("slot").at("participant").is_null());
  EXPECT_EQ(room_.seq(), seq + 2) << "two events, two seqs";
  // A musician moving themself says move too.
  auto bass = new_slot("Bass");
  EXPECT_EQ(fails("mu1", "slot.assign", {{"slot", bass}, {"participant", "mu1"}}), ErrorCode::conflict);
  cmd("mu1", "slot.assign", {{"slot", bass}, {"participant", "mu1"}, {"move", true}});
  EXPECT_EQ(room_.slot_of("mu1")->id, bass);
}

TEST_F(RoomTest, SlotUpdateChangesOnlyTheGivenFields) {
  auto out = cmd("md1", "slot.create", {{"name", "Gtr"}, {"instrument", "guitar"}, {"group", "band"}, {"capo", 2}});
  std::string gtr(out.event_data.at("slot").at("id").as_string());
  EXPECT_EQ(room_.find_slot(gtr)->capo, 2);
  EXPECT_EQ(room_.find_slot(gtr)->pitch, "C") << "concert pitch unless told";
  new_slot("Sax");
  cmd("md1", "slot.assign", {{"slot", gtr}, {"participant", "mu1"}});
  auto upd = cmd("md1", "slot.update", {{"slot", gtr}, {"capo", 5}, {"transpose", -2}});
  EXPECT_EQ(upd.event_type, "slot.update");
  const Slot* s = room_.find_slot(gtr);
  EXPECT_EQ(s->capo, 5);
  EXPECT_EQ(s->transpose, -2);
  EXPECT_EQ(s->name, "Gtr");
  EXPECT_EQ(s->instrument, "guitar");
  EXPECT_EQ(s->participant, "mu1") << "editing a slot keeps who holds it";
  EXPECT_EQ(upd.event_data.at("slot").at("capo").as_int64(), 5);
  cmd("md1", "slot.update", {{"slot", gtr}, {"name", "Alto"}, {"pitch", "Eb"}, {"instrument", ""}});
  EXPECT_EQ(room_.find_slot(gtr)->pitch, "Eb");
  EXPECT_TRUE(room_.snapshot().at("slots").as_array()[0].at("instrument").is_null()) << "an empty instrument reads as none";
  EXPECT_EQ(fails("md1", "slot.update", {{"slot", gtr}, {"name", "Sax"}}), ErrorCode::conflict);
  EXPECT_EQ(fails("md1", "slot.update", {{"slot", gtr}, {"pitch", "D"}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("md1", "slot.update", {{"slot", gtr}, {"capo", 8}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("md1", "slot.update", {{"slot", "sl404"}, {"capo", 1}}), ErrorCode::not_found);
  EXPECT_EQ(fails("mu1", "slot.update", {{"slot", gtr}, {"capo", 1}}), ErrorCode::forbidden);
}

TEST_F(RoomTest, SlotRecordsFromBeforeCapoAndPitchLoad) {
  room_.apply_mutation(Mutation{"slot", "sl9", json::object{{"id", "sl9"}, {"name", "Old"}, {"instrument", nullptr}, {"group", nullptr},
                                                             {"transpose", 3}, {"participant", nullptr}}, false});
  const Slot* s = room_.find_slot("sl9");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->capo, 0);
  EXPECT_EQ(s->pitch, "C");
  EXPECT_EQ(s->transpose, 3);
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

namespace {
std::string cue_texts(const json::array& cues) {
  std::string out;
  for (const auto& c : cues)
    out += std::string(c.at("group").is_null() ? "*" : c.at("group").as_string().c_str()) + "=" + std::string(c.at("text").as_string()) + " ";
  return out;
}
}  // namespace

TEST_F(RoomTest, CuesAreKeptPerGroupUntilReplacedOrCleared) {
  new_slot("Keys");  // group "band"
  add("tc1", Role::tech);
  auto out = cmd("md1", "cue", {{"text", "Tag"}, {"group", "band"}, {"color", "red"}}, 2'000'000);
  EXPECT_TRUE(out.durable);
  const auto& cue = out.event_data.at("cue").as_object();
  EXPECT_EQ(cue.at("from").as_string(), "md1");
  EXPECT_EQ(cue.at("color").as_string(), "red");
  EXPECT_EQ(cue.at("group").as_string(), "band");
  EXPECT_EQ(cue.at("at").as_int64(), 2'000) << "server ms";
  EXPECT_FALSE(cue.at("id").as_string().empty());
  cmd("tc1", "cue", {{"text", "Check mics"}, {"group", "tech"}});
  EXPECT_EQ(cue_texts(room_.cues()), "band=Tag tech=Check mics ");
  cmd("md1", "cue", {{"text", "Out"}, {"group", "band"}});
  EXPECT_EQ(cue_texts(room_.cues()), "tech=Check mics band=Out ") << "a group cue replaces that group's";
  EXPECT_EQ(cue_texts(room_.snapshot().at("cues").as_array()), "tech=Check mics band=Out ") << "the snapshot carries them";
  cmd("md1", "cue", {{"text", "Stop"}});
  EXPECT_EQ(cue_texts(room_.cues()), "*=Stop ") << "a cue to everyone replaces every cue";
  cmd("md1", "cue", {{"text", "Tag"}, {"group", "band"}});
  auto cleared = cmd("md1", "cue.clear", {{"group", "band"}});
  EXPECT_EQ(cleared.event_data.at("group").as_string(), "band");
  EXPECT_EQ(cue_texts(room_.cues()), "*=Stop ");
  auto all = cmd("md1", "cue.clear", {});
  EXPECT_TRUE(all.event_data.at("group").is_null());
  EXPECT_TRUE(room_.cues().empty());
  EXPECT_EQ(fails("md1", "cue", {{"text", "Tag"}, {"group", "vocals"}}), ErrorCode::not_found) << "nobody would see it";
}

TEST_F(RoomTest, TechsCueOnlyTheTechGroup) {
  add("tc1", Role::tech);
  new_slot("Keys");
  EXPECT_EQ(fails("tc1", "cue", {{"text", "Hi"}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("tc1", "cue", {{"text", "Hi"}, {"group", "band"}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("tc1", "cue.clear", {}), ErrorCode::forbidden);
  EXPECT_EQ(fails("mu1", "cue", {{"text", "Hi"}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("mu2", "cue.clear", {}), ErrorCode::forbidden);
  cmd("tc1", "cue", {{"text", "Line check"}, {"group", "tech"}});
  cmd("tc1", "cue.clear", {{"group", "tech"}});
  EXPECT_TRUE(room_.cues().empty());
}

TEST_F(RoomTest, CuesSurviveReloadFromStoredRecords) {
  cmd("md1", "cue", {{"text", "Bridge"}, {"color", "blue"}});
  Room copy("r1", "Rehearsal");
  copy.apply_mutation(Mutation{"meta", "cues", json::object{{"cues", room_.cues()}}, false});
  EXPECT_EQ(cue_texts(copy.cues()), "*=Bridge ");
}

namespace {
json::object meter(int beats, int unit) { return {{"beats", beats}, {"unit", unit}}; }
}  // namespace

TEST_F(RoomTest, ChangingTheSongLoadsItsTempoFromBarZero) {
  auto a = std::string(cmd("md1", "song.create", {{"title", "A"}, {"bpm", 128}, {"meter", meter(6, 8)}}).event_data.at("song").at("id").as_string());
  auto b = std::string(cmd("md1", "song.create", {{"title", "B"}, {"bpm", 90}}).event_data.at("song").at("id").as_string());
  auto sl = std::string(cmd("md1", "setlist.update", {{"title", "S"}, {"items", json::array{{{"song", a}, {"bpm", 132}}, {{"song", b}}}}})
                            .event_data.at("setlist").at("id").as_string());
  std::int64_t seq = room_.seq();
  auto out = cmd("md1", "song.current", {{"setlist", sl}, {"index", 0}}, 2'000'000);
  ASSERT_EQ(out.events_after.size(), 1u);
  EXPECT_EQ(out.events_after[0].type, "tempo.anchor");
  EXPECT_EQ(room_.seq(), seq + 2);
  EXPECT_EQ(room_.tempo().bpm, 132.0) << "the setlist item's bpm first";
  EXPECT_EQ(room_.tempo().meter, (Meter{6, 8}));
  EXPECT_FALSE(room_.tempo().running) << "loading a tempo does not start the click";

  // A section change of the same song never touches the tempo.
  cmd("md1", "tempo.set", {{"bpm", 100}});
  auto section = cmd("md1", "song.current", {{"setlist", sl}, {"index", 0}, {"section", "Bridge"}});
  EXPECT_TRUE(section.events_after.empty());
  EXPECT_EQ(room_.tempo().bpm, 100.0);

  // Running: the next song starts on the next bar boundary at bar 0 (shown as bar 1), at its bpm.
  cmd("md1", "tempo.start", {}, 3'000'000);
  auto rev = room_.tempo().rev;
  cmd("md1", "song.current", {{"setlist", sl}, {"index", 1}}, 20'000'000);
  const auto& t = room_.tempo();
  EXPECT_EQ(t.bpm, 90.0) << "no item bpm: the song's";
  EXPECT_EQ(t.meter, (Meter{6, 8})) << "a song without a meter keeps the one in force";
  EXPECT_TRUE(t.running);
  EXPECT_EQ(t.anchor_bar, 0);
  EXPECT_EQ(t.rev, rev + 1);
  EXPECT_GE(t.anchor_t, 20'000'000 + 300'000) << "never sooner than the lead";
  ASSERT_TRUE(t.prev);
  EXPECT_EQ(t.prev->bpm, 100.0) << "the old song clicks on until the new one starts";
  auto beat = beat_at_or_before(t, t.anchor_t);
  ASSERT_TRUE(beat);
  EXPECT_EQ(beat->bar, 0);
  EXPECT_EQ(beat->beat, 0);

  // keep_tempo: the song changes, the click does not.
  auto kept = cmd("md1", "song.current", {{"setlist", sl}, {"index", 0}, {"keep_tempo", true}}, 30'000'000);
  EXPECT_TRUE(kept.events_after.empty());
  EXPECT_EQ(room_.tempo().bpm, 90.0);
  EXPECT_FALSE(kept.event_data.contains("keep_tempo"));
}

TEST_F(RoomTest, TheVoicePathIsOneRoomSettingEveryDeviceFollows) {
  EXPECT_EQ(room_.voice_path(), "dc") << "the quicker path by default (docs/decisions/0010)";
  const bool self_claim = room_.room_json().at("settings").at("self_claim").as_bool();
  auto out = cmd("md1", "room.settings", {{"voice_path", "rtp"}});
  EXPECT_EQ(out.event_data.at("settings").at("voice_path").as_string(), "rtp");
  EXPECT_EQ(room_.voice_path(), "rtp");
  EXPECT_EQ(room_.room_json().at("settings").at("self_claim").as_bool(), self_claim) << "the rest kept";
  EXPECT_EQ(fails("md1", "room.settings", {{"voice_path", "sfu"}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("mu1", "room.settings", {{"voice_path", "dc"}}), ErrorCode::forbidden);
  EXPECT_EQ(room_.voice_path(), "rtp") << "refused changes change nothing";
}

TEST_F(RoomTest, SongCountInPlaysBeforeBarZeroWhenTheClickRuns) {
  auto a = new_song("A"), b = new_song("B");
  auto sl = std::string(cmd("md1", "setlist.update", {{"title", "S"}, {"items", json::array{{{"song", a}}, {{"song", b}, {"bpm", 140}}}}})
                            .event_data.at("setlist").at("id").as_string());
  auto settings = cmd("md1", "room.settings", {{"song_count_in", 2}});
  EXPECT_EQ(settings.event_data.at("settings").at("song_count_in").as_int64(), 2);
  EXPECT_EQ(room_.song_count_in(), 2);
  EXPECT_EQ(fails("md1", "room.settings", {{"song_count_in", 5}}), ErrorCode::bad_request);
  cmd("md1", "song.current", {{"setlist", sl}, {"index", 0}});
  EXPECT_EQ(room_.tempo().anchor_bar, 0) << "stopped: no count-in, the next start numbers from its own count-in";
  cmd("md1", "tempo.start", {}, 3'000'000);
  cmd("md1", "song.current", {{"setlist", sl}, {"index", 1}}, 10'000'000);
  EXPECT_EQ(room_.tempo().anchor_bar, -2);
  EXPECT_EQ(room_.tempo().count_in_bars, 2);
  EXPECT_EQ(room_.tempo().bpm, 140.0);
  auto first = next_beat(room_.tempo(), room_.tempo().anchor_t);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->count_in);
}

TEST_F(RoomTest, PttTargetsFollowTheTalkTableAndTheSlotPlan) {
  add("te1", Role::tech);
  add("vw1", Role::viewer);
  auto keys = new_slot("Keys");  // group "band"
  auto vox = cmd("md1", "slot.create", {{"name", "Vox"}, {"group", "vocals"}}).event_data.at("slot").at("id").as_string();
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu1"}});
  cmd("md1", "slot.assign", {{"slot", std::string(vox)}, {"participant", "mu2"}});

  EXPECT_EQ(fails("mu1", "ptt.press", {{"target", "all"}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("mu1", "ptt.press", {{"target", "nosuchgroup"}}), ErrorCode::not_found);
  EXPECT_EQ(fails("mu1", "ptt.press", {{"target", "vocals"}}), ErrorCode::forbidden) << "not the musician's own group";
  EXPECT_EQ(fails("mu1", "ptt.press", {{"target", "@mu2"}}), ErrorCode::forbidden) << "musicians do not talk to one person";
  EXPECT_EQ(fails("md1", "ptt.press", {{"target", "@nobody"}}), ErrorCode::not_found);
  EXPECT_EQ(fails("md1", "ptt.press", {{"target", "@vw1"}}), ErrorCode::forbidden) << "a stage display has no voice";
  EXPECT_EQ(fails("md1", "ptt.press", {{"target", "@md1"}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("vw1", "ptt.press", {{"target", "md"}}), ErrorCode::forbidden);

  auto out = cmd("mu1", "ptt.press", {{"target", "band"}});
  EXPECT_EQ(room_.ptt().at("mu1").target, "band");
  EXPECT_TRUE(room_.ptt().at("mu1").to.empty()) << "mu1 is alone in band";
  out = cmd("mu1", "ptt.press", {{"target", "md"}});
  EXPECT_EQ(json::serialize(out.event_data.at("to")), R"(["md1"])");
  out = cmd("md1", "ptt.press", {{"target", "all"}});
  EXPECT_EQ(json::serialize(out.event_data.at("to")), R"(["mu1","mu2","te1"])") << "everyone with a voice but the talker";
  out = cmd("md1", "ptt.press", {{"target", "vocals"}});
  EXPECT_EQ(json::serialize(out.event_data.at("to")), R"(["mu2"])");
  out = cmd("te1", "ptt.press", {{"target", "@mu1"}});
  EXPECT_EQ(json::serialize(out.event_data.at("to")), R"(["mu1"])");
  cmd("mu1", "ptt.release", {});
  EXPECT_FALSE(room_.ptt().count("mu1"));
  EXPECT_EQ(room_.snapshot().at("ptt").as_array().size(), 2u);
}

TEST_F(RoomTest, TalkToAllForOthersIsARoomSetting) {
  add("te1", Role::tech);
  EXPECT_EQ(fails("te1", "ptt.press", {{"target", "all"}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("mu1", "room.settings", {{"talk_all", json::array{"musician"}}}), ErrorCode::forbidden);
  auto out = cmd("md1", "room.settings", {{"talk_all", json::array{"tech", "tech"}}});
  EXPECT_TRUE(out.durable);
  EXPECT_EQ(json::serialize(out.event_data.at("settings")), R"({"self_claim":true,"talk_all":["tech"],"song_count_in":0,"voice_path":"dc"})");
  cmd("te1", "ptt.press", {{"target", "all"}});
  EXPECT_EQ(fails("mu1", "ptt.press", {{"target", "all"}}), ErrorCode::forbidden);
  cmd("md1", "room.settings", {{"self_claim", false}});
  EXPECT_EQ(json::serialize(room_.room_json().at("settings")), R"({"self_claim":false,"talk_all":["tech"],"song_count_in":0,"voice_path":"dc"})") << "a partial update keeps the rest";
}

TEST_F(RoomTest, ListenersAreRefreshedWhenSomebodyComesOnlineOrChangesGroup) {
  auto keys = new_slot("Keys");
  cmd("md1", "ptt.press", {{"target", "band"}});
  EXPECT_TRUE(room_.plan_ptt_refresh().empty());
  cmd("md1", "slot.assign", {{"slot", keys}, {"participant", "mu2"}});
  auto refresh = room_.plan_ptt_refresh();
  ASSERT_EQ(refresh.size(), 1u);
  EXPECT_EQ(json::serialize(refresh[0].event_data.at("to")), R"(["mu2"])");
  run(refresh[0]);
  EXPECT_TRUE(room_.plan_ptt_refresh().empty());
  auto rel = room_.plan_ptt_release("md1");
  EXPECT_EQ(rel.event_type, "ptt.state");
  EXPECT_FALSE(rel.event_data.at("talking").as_bool());
  run(rel);
  EXPECT_TRUE(room_.plan_ptt_release("md1").event_type.empty()) << "releasing twice sends nothing";
}

TEST_F(RoomTest, RtcIsRelayedOnlyToItsTarget) {
  add("vw1", Role::viewer);
  const std::string sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n";
  auto out = cmd("mu1", "rtc.offer", {{"to", "md1"}, {"sdp", sdp}});
  EXPECT_EQ(out.audience, Audience::one);
  EXPECT_EQ(out.target, "md1");
  EXPECT_EQ(out.event_data.at("from").as_string(), "mu1");
  EXPECT_FALSE(out.event_data.contains("to"));
  EXPECT_EQ(fails("mu1", "rtc.offer", {{"to", "pnobody"}, {"sdp", sdp}}), ErrorCode::not_found);
  EXPECT_EQ(fails("mu1", "rtc.offer", {{"to", "vw1"}, {"sdp", sdp}}), ErrorCode::forbidden);
  EXPECT_EQ(fails("mu1", "rtc.offer", {{"to", "mu1"}, {"sdp", sdp}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("mu1", "rtc.answer", {{"to", "md1"}, {"sdp", "hello"}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("mu1", "rtc.offer", {{"to", "md1"}, {"sdp", std::string(17000, 'v')}}), ErrorCode::bad_request) << "the schema's 16 KiB limit";
  cmd("mu1", "rtc.ice", {{"to", "md1"}, {"candidate", {{"candidate", "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}}}});
  cmd("mu1", "rtc.ice", {{"to", "md1"}, {"candidate", {{"candidate", ""}}}});
  EXPECT_EQ(fails("mu1", "rtc.ice", {{"to", "md1"}, {"candidate", {{"candidate", "rm -rf /"}}}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("mu1", "rtc.ice", {{"to", "md1"}, {"candidate", {{"sdpMid", "0"}}}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("mu1", "rtc.ice", {{"to", "md1"}, {"candidate", {{"candidate", ""}, {"evil", 1}}}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("mu1", "rtc.ice", {{"to", "md1"}, {"candidate", {{"candidate", "candidate:" + std::string(2000, 'x')}}}}), ErrorCode::too_large);
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

TEST_F(RoomTest, AClockShiftKeepsTheBeatOnTheSameInstants) {
  cmd("md1", "tempo.set", {{"bpm", 90}});
  cmd("md1", "tempo.start", {}, 5'000'000);
  run(room_.plan_offline("mu1", 7'000'000));
  auto before = room_.tempo();
  const std::int64_t delta = -4'000'000'000;  // the new boot's clock reads 4000 s less for the same instant
  auto out = room_.plan_clock_shift(delta);
  EXPECT_FALSE(out.durable) << "not an event: nothing changed for a person";
  run(out);
  EXPECT_EQ(room_.tempo().anchor_t, before.anchor_t + delta);
  EXPECT_EQ(room_.tempo().rev, before.rev);
  EXPECT_EQ(room_.find_participant("mu1")->last_seen, 7'000'000 + delta);
  // The grace period still counts from when mu1 went away, on the new clock.
  EXPECT_TRUE(room_.expired(7'000'000 + delta + 59'000'000).empty());
  EXPECT_EQ(room_.expired(7'000'000 + delta + 60'000'000).size(), 1u);
}

TEST_F(RoomTest, AChartsKeyTempoAndTimeFillTheSongWhereNotSet) {
  const char* chart = "{title: Way Maker}\n{key: G}\n{tempo: 68 bpm}\n{time: 6/8}\n[G]Way maker\n{key: A}\n[A]Miracle worker\n";
  auto song = cmd("md1", "song.create", {{"title", "Way Maker"}, {"chordpro", chart}}).event_data.at("song").as_object();
  EXPECT_EQ(song.at("key"), "G") << "the first {key} is the song key; the later one is a modulation";
  EXPECT_EQ(song.at("bpm").to_number<double>(), 68);
  EXPECT_EQ(song.at("meter"), (json::object{{"beats", 6}, {"unit", 8}}));

  // What the MD typed wins; a value that is not a bpm or a meter is left out.
  auto typed = cmd("md1", "song.create", {{"title", "B"}, {"key", "D"}, {"chordpro", "{key: G}\n{tempo: fast}\n{time: 7/9}\n"}})
                   .event_data.at("song").as_object();
  EXPECT_EQ(typed.at("key"), "D");
  EXPECT_TRUE(typed.at("bpm").is_null());
  EXPECT_TRUE(typed.at("meter").is_null());

  // A new chart on update fills a key the song still lacks.
  auto id = std::string(cmd("md1", "song.create", {{"title", "C"}}).event_data.at("song").at("id").as_string());
  auto updated = cmd("md1", "song.update", {{"id", id}, {"chordpro", "{key: Bb}\n[Bb]Hi"}}).event_data.at("song").as_object();
  EXPECT_EQ(updated.at("key"), "Bb");
}

TEST_F(RoomTest, SlotOrderIsTheMdsWholeListAndEveryReaderKeepsIt) {
  auto keys = new_slot("Keys"), drums = new_slot("Drums"), bass = new_slot("Bass");
  auto out = cmd("md1", "slot.order", {{"slots", json::array{bass, keys, drums}}});
  EXPECT_EQ(out.event_data.at("slots"), (json::array{bass, keys, drums}));
  std::vector<std::string> names;
  for (const auto& s : room_.slots()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Bass", "Keys", "Drums"}));
  // A slot made afterwards goes last; the snapshot lists them in that order.
  new_slot("Vox");
  const auto whole = room_.snapshot();
  const auto& snap = whole.at("slots").as_array();
  ASSERT_EQ(snap.size(), 4u);
  EXPECT_EQ(snap[0].at("name"), "Bass");
  EXPECT_EQ(snap[3].at("name"), "Vox");
  // A partial list, a doubled slot or a stranger's id changes nothing and says what to send.
  EXPECT_EQ(fails("md1", "slot.order", {{"slots", json::array{keys, drums}}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("md1", "slot.order", {{"slots", json::array{keys, keys, drums, bass}}}), ErrorCode::bad_request);
  EXPECT_EQ(fails("md1", "slot.order", {{"slots", json::array{keys, drums, bass, "sl-nope"}}}), ErrorCode::not_found);
  EXPECT_EQ(room_.slots().front().name, "Bass");
}

TEST_F(RoomTest, SongsReachClientsAsMetadataWithABodyRevisionNotTheBody) {
  const std::string chart = "{soc}\n[G]Grace [C]road\n{eoc}";
  auto created = cmd("md1", "song.create", {{"title", "Grace"}, {"chordpro", chart}});
  auto song = created.event_data.at("song").as_object();
  std::string id(song.at("id").as_string());
  EXPECT_FALSE(song.contains("chordpro")) << "the event carries no body";
  EXPECT_EQ(song.at("body_rev").as_int64(), room_.seq()) << "the body's revision is the seq of the event that set it";
  EXPECT_EQ(song.at("body_bytes").as_int64(), static_cast<std::int64_t>(chart.size()));
  EXPECT_EQ(room_.find_song(id)->at("chordpro").as_string(), chart) << "the room keeps the body for GET /api/room/songs/<id>";
  auto snap = room_.snapshot();
  ASSERT_EQ(snap.at("songs").as_array().size(), 1u);
  EXPECT_EQ(snap.at("songs").as_array()[0].as_object(), song) << "the snapshot lists the same metadata";

  std::int64_t rev = song.at("body_rev").as_int64();
  auto renamed = cmd("md1", "song.update", {{"id", id}, {"title", "Grace Road"}}).event_data.at("song").as_object();
  EXPECT_EQ(renamed.at("body_rev").as_int64(), rev) << "a title change keeps the cached body valid";
  auto same = cmd("md1", "song.update", {{"id", id}, {"chordpro", chart}}).event_data.at("song").as_object();
  EXPECT_EQ(same.at("body_rev").as_int64(), rev) << "the same chart sent again is not a new revision";
  auto edited = cmd("md1", "song.update", {{"id", id}, {"chordpro", chart + "\n[D]Amen"}}).event_data.at("song").as_object();
  EXPECT_EQ(edited.at("body_rev").as_int64(), room_.seq()) << "a new chart is a new revision";
  EXPECT_GT(edited.at("body_rev").as_int64(), rev);

  // A row stored before revisions existed reads as revision 0, its size from the stored body.
  room_.apply_mutation(Mutation{"song", "sg900", json::object{{"id", "sg900"}, {"title", "Old"}, {"chordpro", "[C]x"}}, false});
  auto old = Room::song_meta(*room_.find_song("sg900"));
  EXPECT_EQ(old.at("body_rev").as_int64(), 0);
  EXPECT_EQ(old.at("body_bytes").as_int64(), 4);
}

TEST(RoomLibrary, AChangeThatWouldMakeTheSnapshotTooBigIsRefusedAndBodiesDoNotCount) {
  RoomConfig cfg;
  cfg.max_snapshot_bytes = 4096;
  Room room("r1", "R", cfg);
  Participant md{"md1", "md1", "dev-md1", Role::md, true, 0, false, false};
  room.apply_mutation(Mutation{"participant", "md1", Room::participant_record(md), false});
  const auto& schema = Schema::builtin();
  auto run = [&](const std::string& type, json::object data) {
    auto parsed = parse_frame(json::serialize(json::object{{"type", type}, {"id", "c"}, {"data", data}}), schema);
    auto out = room.plan(Actor{"md1", Role::md}, *parsed.command, 1'000'000);
    room.apply(out, room.seq() + 1);
    return out;
  };
  const std::string big(30000, 'x');
  int made = 0;
  try {
    for (; made < 1000; ++made) run("song.create", {{"title", "Song " + std::to_string(made)}, {"chordpro", big}});
  } catch (const CommandError& e) {
    EXPECT_EQ(e.code(), ErrorCode::conflict);
    EXPECT_NE(std::string(e.what()).find("--max-snapshot-bytes"), std::string::npos) << e.what();
  }
  EXPECT_GT(made, 20) << "30 KB bodies do not count: only each song's ~120 bytes of metadata do";
  EXPECT_LT(made, 1000);
  EXPECT_LE(room.library_bytes(), cfg.max_snapshot_bytes);
  EXPECT_LE(json::serialize(room.snapshot().at("songs")).size(), cfg.max_snapshot_bytes);
  // Deleting frees room for another.
  run("song.delete", {{"id", "sg1"}});
  EXPECT_NO_THROW(run("song.create", {{"title", "One more"}}));
}

namespace {
// A Room holding the vector's snapshot (with the bodies the server keeps beside it).
Room room_from_vectors(const json::object& v) {
  const auto& snap = v.at("snapshot").as_object();
  const auto& info = snap.at("room").as_object();
  Room room(std::string(info.at("id").as_string()), std::string(info.at("name").as_string()));
  room.set_seq(snap.at("seq").as_int64());
  room.apply_mutation(Mutation{"meta", "settings", info.at("settings").as_object(), false});
  for (const auto& pv : snap.at("participants").as_array()) {
    const auto& p = pv.as_object();
    Participant rec{std::string(p.at("id").as_string()), std::string(p.at("name").as_string()), "dev-" + std::string(p.at("id").as_string()),
                    role_from_string(p.at("role").as_string()).value(), p.at("online").as_bool(), 0, false, false};
    room.apply_mutation(Mutation{"participant", rec.id, Room::participant_record(rec), false});
  }
  for (const auto& sv : snap.at("slots").as_array())
    room.apply_mutation(Mutation{"slot", std::string(sv.at("id").as_string()), sv.as_object(), false});
  for (const auto& sv : snap.at("songs").as_array()) {
    json::object stored = sv.as_object();
    stored.erase("body_bytes");
    std::string id(stored.at("id").as_string());
    stored["chordpro"] = v.at("bodies").as_object().at(id);
    room.apply_mutation(Mutation{"song", id, stored, false});
  }
  for (const auto& sv : snap.at("setlists").as_array())
    room.apply_mutation(Mutation{"setlist", std::string(sv.at("id").as_string()), sv.as_object(), false});
  if (snap.at("song_current").is_object()) room.apply_mutation(Mutation{"meta", "current", snap.at("song_current").as_object(), false});
  room.apply_mutation(Mutation{"meta", "tempo", snap.at("tempo").as_object(), false});
  room.apply_mutation(Mutation{"meta", "cues", json::object{{"cues", snap.at("cues")}}, false});
  return room;
}
}  // namespace

// protocol/vectors/room_events.json, the server's side: the commands give exactly the events the
// clients' reducers replay (client/room_state.test.cpp, web/src/state.test.ts), and the room ends
// where the reducers must.
TEST(RoomVectors, TheCommandsOfEachCaseGiveItsEventsAndItsState) {
  std::ifstream in(std::string(DOWNBEAT_SOURCE_DIR) + "/protocol/vectors/room_events.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto v = json::parse(ss.str()).as_object();
  {
    Room start = room_from_vectors(v);
    EXPECT_EQ(start.snapshot(), v.at("snapshot").as_object()) << "the vector's snapshot is what this room sends";
    EXPECT_EQ(Schema::builtin().validate_event("snapshot", v.at("snapshot")), "") << "the vector's snapshot has the schema's shape";
  }
  const auto& schema = Schema::builtin();
  for (const auto& cv : v.at("cases").as_array()) {
    const auto& c = cv.as_object();
    const std::string name(c.at("name").as_string());
    Room room = room_from_vectors(v);
    json::array events;
    for (const auto& kv : c.at("commands").as_array()) {
      const auto& k = kv.as_object();
      auto parsed = parse_frame(json::serialize(json::object{{"type", k.at("type")}, {"id", "c"}, {"data", k.at("data")}}), schema);
      ASSERT_FALSE(parsed.error) << name << ": " << parsed.error->message;
      std::string from(k.at("from").as_string());
      Outcome out = room.plan(Actor{from, room.find_participant(from)->role}, *parsed.command, k.at("now_us").as_int64());
      std::int64_t seq = room.seq() + 1 + static_cast<std::int64_t>(out.events_before.size());
      std::int64_t at = seq - static_cast<std::int64_t>(out.events_before.size());
      for (const auto& e : out.events_before) events.push_back(json::object{{"type", e.type}, {"seq", at++}, {"data", e.data}});
      events.push_back(json::object{{"type", out.event_type}, {"seq", at++}, {"data", out.event_data}});
      for (const auto& e : out.events_after) events.push_back(json::object{{"type", e.type}, {"seq", at++}, {"data", e.data}});
      expect_schema_events(out);
      room.apply(out, seq);
    }
    EXPECT_EQ(json::serialize(events), json::serialize(c.at("events"))) << name;
    EXPECT_EQ(schema.validate_event("snapshot", room.snapshot()), "") << name;
    EXPECT_EQ(events, c.at("events").as_array()) << name;
    const auto snap = room.snapshot();
    const auto& expect = c.at("expect").as_object();
    auto find = [&](const char* list, std::string_view id) -> const json::object* {
      for (const auto& x : snap.at(list).as_array())
        if (x.at("id").as_string() == id) return &x.as_object();
      return nullptr;
    };
    if (const auto* cues = expect.if_contains("cues")) {
      json::array got;
      for (const auto& q : snap.at("cues").as_array())
        got.push_back(json::string((q.at("group").is_null() ? std::string("*") : std::string(q.at("group").as_string())) + ":" +
                                   std::string(q.at("text").as_string())));
      EXPECT_EQ(got, cues->as_array()) << name;
    }
    if (const auto* holders = expect.if_contains("holders"))
      for (const auto& [slot, holder] : holders->as_object()) {
        const auto* s = find("slots", slot);
        ASSERT_TRUE(s) << name << ": " << slot;
        EXPECT_EQ(s->at("participant"), holder) << name << ": " << slot;
      }
    if (const auto* ps = expect.if_contains("participant_slots"))
      for (const auto& [pid, slot] : ps->as_object()) {
        const auto* p = find("participants", pid);
        ASSERT_TRUE(p) << name << ": " << pid;
        EXPECT_EQ(p->at("slot"), slot) << name << ": " << pid;
      }
    for (const char* list : {"slots", "songs"})
      if (const auto* want = expect.if_contains(list))
        for (const auto& [id, fields] : want->as_object()) {
          const auto* x = find(list, id);
          ASSERT_TRUE(x) << name << ": " << id;
          for (const auto& [k, val] : fields.as_object()) EXPECT_EQ(x->at(k), val) << name << ": " << id << "." << k;
        }
    if (const auto* want = expect.if_contains("setlists")) {
      json::array ids;
      for (const auto& x : snap.at("setlists").as_array()) ids.push_back(x.at("id"));
      EXPECT_EQ(ids, want->as_array()) << name;
    }
    if (const auto* want = expect.if_contains("song_current")) {
      EXPECT_EQ(snap.at("song_current"), *want) << name;
    }
    if (const auto* want = expect.if_contains("active_setlist")) {
      EXPECT_EQ(snap.at("active_setlist"), *want) << name;
    }
    if (expect.contains("no_bodies")) {
      for (const auto& x : snap.at("songs").as_array()) EXPECT_FALSE(x.as_object().contains("chordpro")) << name;
    }
    if (const auto* seq = expect.if_contains("seq")) {
      EXPECT_EQ(snap.at("seq"), *seq) << name;
    }
  }
}
