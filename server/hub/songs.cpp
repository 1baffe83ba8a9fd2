#include "server/hub/songs.hpp"

namespace downbeat::server {
namespace json = boost::json;
using core::CommandError;
using core::ErrorCode;

std::vector<core::Command> song_create_commands(const core::Room& room, const importer::Result& imported, const std::string& filename,
                                                const core::Schema& schema) {
  const core::CommandSpec* spec = schema.find("song.create");
  if (!spec) throw CommandError(ErrorCode::internal, "song.create is missing from the protocol schema");
  std::size_t max = room.config().max_songs, have = room.song_count(), n = imported.songs.size();
  if (have + n > max)
    throw CommandError(ErrorCode::conflict, filename + ": the song library is full (" + std::to_string(have) + " of " + std::to_string(max) +
                                                " songs" + (n > 1 ? ", and the file has " + std::to_string(n) : std::string()) +
                                                "): delete songs you no longer use, or start the server with a larger --max-songs");
  std::vector<core::Command> out;
  std::size_t bytes = room.library_bytes();
  for (const auto& song : imported.songs) {
    core::Command cmd{"song.create", "import", importer::to_create_data(song), spec};
    if (std::string why = schema.validate(*spec, cmd.data); !why.empty())
      throw CommandError(ErrorCode::bad_request, filename + " (\"" + song.title + "\"): " + why + ": nothing was imported");
    // What the song will add to every join snapshot: its metadata (a chart may fill key, bpm, meter; the id and revision).
    bytes += json::serialize(core::Room::song_meta(cmd.data)).size() + 96;
    out.push_back(std::move(cmd));
  }
  if (bytes > room.config().max_snapshot_bytes)
    throw CommandError(ErrorCode::conflict, filename + ": the room's song list would take " + std::to_string(bytes / 1024) + " KiB of every join, over the limit of " +
                                                std::to_string(room.config().max_snapshot_bytes / 1024) +
                                                " KiB: delete songs you no longer use, or start the server with a larger --max-snapshot-bytes; nothing was imported");
  return out;
}

std::string setlist_bundle(const core::Room& room, const std::string& setlist, std::string& title) {
  const json::object* sl = room.find_setlist(setlist);
  if (!sl) throw CommandError(ErrorCode::not_found, "no setlist " + setlist + " in this room");
  if (const auto* t = sl->if_contains("title"); t && t->is_string()) title = std::string(t->get_string());
  std::vector<importer::ExportItem> items;
  for (const auto& v : sl->at("items").as_array()) {
    const auto& item = v.as_object();
    const json::object* song = room.find_song(std::string(item.at("song").as_string()));
    if (!song) continue;
    importer::ExportItem e{importer::song_from_json(*song), {}, {}, {}};
    if (const auto* k = item.if_contains("key"); k && k->is_string()) e.key = std::string(k->get_string());
    if (const auto* b = item.if_contains("bpm"); b && b->is_number()) e.bpm = b->to_number<double>();
    if (const auto* n = item.if_contains("notes"); n && n->is_string()) e.notes = std::string(n->get_string());
    items.push_back(std::move(e));
  }
  return importer::export_bundle(items);
}

std::string bundle_file_name(const std::string& title) {
  std::string out;
  for (char c : title) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ' ';
    out += safe ? c : '_';
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(0, 1);
  if (out.empty()) out = "setlist";
  return out + ".chordpro";
}

json::array warnings_json(const std::string& filename, const std::vector<importer::Warning>& warnings) {
  json::array out;
  for (const auto& w : warnings) out.push_back(json::object{{"line", w.line}, {"message", w.message}, {"text", importer::describe(filename, w)}});
  return out;
}

}  // namespace downbeat::server
