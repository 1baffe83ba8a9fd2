#include "server/app/admin.hpp"

#include <fcntl.h>
#include <qrencode.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "core/import.hpp"
#include "core/schema.hpp"
#include "server/hub/songs.hpp"

#include "server/auth/crypto.hpp"
#include "server/clock.hpp"

namespace downbeat::server {

namespace {
std::map<core::Role, std::string> fresh_codes() {
  std::map<core::Role, std::string> out;
  for (core::Role r : core::all_roles()) out[r] = random_code(10);
  return out;
}
}  // namespace

RoomCodes create_room(Storage& storage, const std::string& name) {
  if (name.empty() || name.size() > 80) throw std::invalid_argument("room name must be 1-80 characters");
  std::string id = "r" + random_hex(4);
  storage.create_room(id, name, now_us());
  auto codes = fresh_codes();
  storage.set_codes(id, codes, unix_us());
  return RoomCodes{id, name, codes};
}

RoomCodes room_codes(Storage& storage, const std::string& room, bool rotate) {
  auto row = storage.room(room);
  if (!row) throw std::invalid_argument("no room " + room + ": `downbeatd room list` shows the rooms");
  if (rotate) storage.set_codes(room, fresh_codes(), unix_us());
  return RoomCodes{row->id, row->name, storage.codes(room)};
}

std::string codes_json(const RoomCodes& rc) {
  boost::json::object codes;
  for (const auto& [role, code] : rc.codes) codes[core::to_string(role)] = code;
  return boost::json::serialize(boost::json::object{{"room", rc.room}, {"codes", std::move(codes)}});
}

std::string terminal_qr(const std::string& text) {
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  if (!qr) return "(QR code could not be made for " + text + ")\n";
  int w = qr->width, quiet = 2, size = w + 2 * quiet;
  auto dark = [&](int x, int y) {
    x -= quiet;
    y -= quiet;
    return x >= 0 && y >= 0 && x < w && y < w && (qr->data[y * w + x] & 1);
  };
  // Two modules per character cell (upper/lower half blocks), light on dark terminals inverted for scanners.
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      bool top = dark(x, y), bottom = dark(x, y + 1);
      out += !top && !bottom ? "\u2588" : !top && bottom ? "\u2580" : top && !bottom ? "\u2584" : " ";
    }
    out += "\n";
  }
  return out;
}

std::string codes_text(const RoomCodes& rc, const std::string& base_url, bool with_qr) {
  std::string out = "Room \"" + rc.name + "\" (" + rc.room + ")\n";
  for (const auto& [role, code] : rc.codes) {
    std::string url = base_url + "/j/" + code;
    out += "  " + std::string(core::to_string(role)) + ": " + url + "\n";
    if (with_qr && (role == core::Role::md || role == core::Role::musician || role == core::Role::tech || role == core::Role::viewer))
      out += terminal_qr(url);
  }
  return out;
}

DataDirLock::DataDirLock(const std::string& data_dir, const std::string& busy_message) {
  std::string path = (std::filesystem::path(data_dir) / "downbeatd.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK) throw std::runtime_error(busy_message);
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(e));
  }
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

namespace {
core::Room load_room(Storage& storage, const std::string& room, std::size_t max_songs) {
  auto row = storage.room(room);
  if (!row) throw std::invalid_argument("no room " + room + ": `downbeatd room list` shows the rooms");
  core::RoomConfig cfg;
  cfg.max_songs = max_songs;
  core::Room r(row->id, row->name, cfg);
  storage.load_room(r);
  return r;
}

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }
}  // namespace

int import_song_files(Storage& storage, const std::string& room, const std::vector<std::string>& files, std::size_t max_songs,
                      std::ostream& out, std::ostream& err) {
  core::Room r = load_room(storage, room, max_songs);
  const core::Schema& schema = core::Schema::builtin();
  const core::Actor md{"cli", core::Role::md};
  int failed = 0;
  for (const auto& path : files) {
    std::string name = file_name(path);
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    std::ifstream in(path, std::ios::binary);
    if (ec || !in) {
      err << path << ": cannot read it (" << (ec ? ec.message() : std::string(std::strerror(errno))) << "): not imported\n";
      ++failed;
      continue;
    }
    if (size > importer::kMaxFileBytes) {
      err << "file " << name << " is " << (size + 1023) / 1024 << " KiB; the limit is " << importer::kMaxFileBytes / 1024
          << " KiB per file: is it a song? split a big collection into several files\n";
      ++failed;
      continue;
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    importer::Result res = importer::import_file(name, bytes.str());
    if (!res.ok()) {
      err << *res.error << "\n";
      ++failed;
      continue;
    }
    try {
      auto cmds = song_create_commands(r, res, name, schema);
      for (const auto& cmd : cmds) {
        core::Outcome o = r.plan(md, cmd, now_us());
        std::int64_t seq = r.seq() + 1;
        storage.commit(r.id(), seq, now_us(), o, boost::json::serialize(o.event_data));
        r.apply(o, seq);
        const auto& song = o.event_data.at("song").as_object();
        out << name << ": imported \"" << song.at("title").as_string().c_str() << "\" as " << song.at("id").as_string().c_str() << " ("
            << importer::to_string(res.format) << ")\n";
      }
      for (const auto& w : res.warnings) out << "  warning: " << importer::describe(name, w) << "\n";
    } catch (const core::CommandError& e) {
      err << e.what() << "\n";
      ++failed;
    }
  }
  return failed;
}

std::string export_setlist(Storage& storage, const std::string& room, const std::string& setlist, std::string& title) {
  core::Room r = load_room(storage, room, std::size_t(-1));
  try {
    return setlist_bundle(r, setlist, title);
  } catch (const core::CommandError& e) {
    throw std::invalid_argument(std::string(e.what()) + ": `downbeatd setlist list --room " + room + "` shows them");
  }
}

std::string list_setlists(Storage& storage, const std::string& room) {
  core::Room r = load_room(storage, room, std::size_t(-1));
  std::string out;
  const auto snap = r.snapshot();
  for (const auto& v : snap.at("setlists").as_array()) {
    const auto& sl = v.as_object();
    out += std::string(sl.at("id").as_string()) + "\t" + std::string(sl.at("title").as_string()) + "\t" +
           std::to_string(sl.at("items").as_array().size()) + " songs\n";
  }
  return out;
}

}  // namespace downbeat::server
