#pragma once
// Room administration that needs no running server: create rooms, show and rotate join codes.
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "core/permissions.hpp"
#include "server/storage/storage.hpp"

namespace downbeat::server {

struct RoomCodes {
  std::string room;
  std::string name;
  std::map<core::Role, std::string> codes;
};

RoomCodes create_room(Storage& storage, const std::string& name);
RoomCodes room_codes(Storage& storage, const std::string& room, bool rotate);
std::string codes_json(const RoomCodes& rc);
// Join URLs and terminal QR codes for each role.
std::string codes_text(const RoomCodes& rc, const std::string& base_url, bool with_qr);
std::string terminal_qr(const std::string& text);

// An exclusive lock on a data directory (flock on DIR/downbeatd.lock), held while the object lives:
// `serve` holds it, and so does `song import`, which writes the room's library behind no server.
class DataDirLock {
 public:
  // Throws std::runtime_error when it cannot be taken, with `busy_message` when another process holds it.
  DataDirLock(const std::string& data_dir, const std::string& busy_message);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

// `downbeatd song import FILE...`: each file's songs go into the room's library through song.create
// (event log, seq), as if the MD had typed them; a file that fails changes nothing and the others
// go on. Reports each file by name on `out` (imported, warnings) or `err` (why not). Returns the
// number of files that failed.
int import_song_files(Storage& storage, const std::string& room, const std::vector<std::string>& files, std::size_t max_songs,
                      std::ostream& out, std::ostream& err);

// `downbeatd setlist export`: the setlist as one ChordPro bundle; `title` gets its title.
std::string export_setlist(Storage& storage, const std::string& room, const std::string& setlist, std::string& title);
// `downbeatd setlist list`: "ID<TAB>TITLE<TAB>N songs" lines.
std::string list_setlists(Storage& storage, const std::string& room);

}  // namespace downbeat::server
