// Storage against real SQLite files: what is committed is there after reopening; refresh tokens rotate.
#include <gtest/gtest.h>

#include <filesystem>

#include "server/storage/storage.hpp"

using namespace downbeat;
using namespace downbeat::server;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("downbeat-storage-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string db() const { return (path / "test.db").string(); }
};

core::Outcome slot_created(const std::string& id, const std::string& name) {
  core::Outcome out;
  out.durable = true;
  out.event_type = "slot.create";
  core::Slot s{id, name, "", "", 0, 0, "C", ""};
  out.event_data = {{"slot", core::Room::slot_json(s)}};
  out.mutations.push_back(core::Mutation{"slot", id, core::Room::slot_json(s), false});
  return out;
}
}  // namespace

TEST(Storage, CommittedChangesSurviveReopen) {
  TempDir dir;
  {
    Storage s(dir.db());
    s.create_room("r1", "Rehearsal", 1);
    s.commit("r1", 1, 10, slot_created("sl1", "Keys"), "{}");
    s.commit("r1", 2, 20, slot_created("sl2", "Drums"), "{}");
  }
  Storage s(dir.db());
  core::Room room("r1", "Rehearsal");
  s.load_room(room);
  EXPECT_EQ(room.seq(), 2);
  ASSERT_EQ(room.slots().size(), 2u);
  EXPECT_EQ(room.slots()[0].name, "Keys");
  EXPECT_EQ(room.slots()[1].name, "Drums");
}

TEST(Storage, EventsSinceReplaysExactlyTheMissedOnes) {
  TempDir dir;
  Storage s(dir.db());
  s.create_room("r1", "R", 1);
  for (int i = 1; i <= 5; ++i) s.commit("r1", i, i, slot_created("sl" + std::to_string(i), "S" + std::to_string(i)), "{\"n\":" + std::to_string(i) + "}");
  auto ev = s.events_since("r1", 3, 5);
  ASSERT_TRUE(ev);
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[0].seq, 4);
  EXPECT_EQ((*ev)[1].seq, 5);
  EXPECT_TRUE(s.events_since("r1", 5, 5)->empty());
  EXPECT_FALSE(s.events_since("r1", 9, 5)) << "a since beyond the log's end needs a snapshot";
}

TEST(Storage, TrimmedLogForcesSnapshot) {
  TempDir dir;
  Storage s(dir.db());
  s.set_event_retention(100);
  s.create_room("r1", "R", 1);
  for (int i = 1; i <= 300; ++i) s.commit("r1", i, i, slot_created("sl" + std::to_string(i), "S" + std::to_string(i)), "{}");
  EXPECT_FALSE(s.events_since("r1", 10, 300)) << "events 11.. were trimmed";
  EXPECT_TRUE(s.events_since("r1", 250, 300));
}

TEST(Storage, RefreshTokenRotationAndReuseRevokesFamily) {
  TempDir dir;
  Storage s(dir.db());
  s.create_room("r1", "R", 1);
  s.insert_refresh("h1", "p1", "r1", "fam", 1'000'000);
  EXPECT_EQ(s.use_refresh("h1", 10).result, RefreshUse::Result::ok);
  s.insert_refresh("h2", "p1", "r1", "fam", 1'000'000);
  EXPECT_EQ(s.use_refresh("h1", 10).result, RefreshUse::Result::reused);
  EXPECT_EQ(s.use_refresh("h2", 10).result, RefreshUse::Result::revoked) << "reuse must revoke the whole family";
  EXPECT_EQ(s.use_refresh("nope", 10).result, RefreshUse::Result::unknown);
  s.insert_refresh("h3", "p2", "r1", "fam2", 5);
  EXPECT_EQ(s.use_refresh("h3", 10).result, RefreshUse::Result::expired);
}

TEST(Storage, JoinCodesRotate) {
  TempDir dir;
  Storage s(dir.db());
  s.create_room("r1", "R", 1);
  s.set_codes("r1", {{core::Role::md, "AAA"}, {core::Role::musician, "BBB"}}, 1);
  EXPECT_EQ(s.lookup_code("AAA")->role, core::Role::md);
  s.set_codes("r1", {{core::Role::md, "CCC"}, {core::Role::musician, "DDD"}}, 2);
  EXPECT_FALSE(s.lookup_code("AAA")) << "rotated codes stop working";
  EXPECT_EQ(s.lookup_code("DDD")->room, "r1");
}

TEST(Storage, BackupIsAReadableCopy) {
  TempDir dir;
  Storage s(dir.db());
  s.create_room("r1", "Sunday", 1);
  s.backup((dir.path / "backup.db").string());
  Storage b((dir.path / "backup.db").string());
  ASSERT_EQ(b.rooms().size(), 1u);
  EXPECT_EQ(b.rooms()[0].name, "Sunday");
}
