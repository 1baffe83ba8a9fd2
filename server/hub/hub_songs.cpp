// Songs in and out over HTTP: import a file into the room's library, export a setlist.
#include <spdlog/spdlog.h>

#include "server/clock.hpp"
#include "server/hub/hub.hpp"
#include "server/hub/songs.hpp"

namespace downbeat::server {
namespace json = boost::json;
using core::ErrorCode;

Claims Hub::member_claims(const std::string& bearer, RoomRuntime*& rt) {
  auto verdict = jwt_verify(bearer, key_, unix_seconds());
  if (!verdict.claims) throw HttpError{ErrorCode::unauthorized, verdict.error};
  const Claims& c = *verdict.claims;
  if (!c.fam.empty() && storage_.family_revoked(c.fam))
    throw HttpError{ErrorCode::unauthorized, "this session was revoked: scan the QR code to join again"};
  rt = find_room(c.room);
  const core::Participant* p = rt ? rt->room.find_participant(c.sub) : nullptr;
  if (!p) throw HttpError{ErrorCode::unauthorized, "this token's room or participant no longer exists: scan the QR code to join again"};
  if (p->kicked) throw HttpError{ErrorCode::unauthorized, "you were removed from the room by the MD: scan the QR code to join again"};
  return c;
}

json::object Hub::import_songs(const std::string& bearer, const std::string& filename, std::string_view bytes) {
  RoomRuntime* rt = nullptr;
  Claims c = member_claims(bearer, rt);
  if (c.role != "md") throw HttpError{ErrorCode::forbidden, "only the MD may import songs into the library"};
  importer::Result imported = importer::import_file(filename, bytes);
  if (!imported.ok()) {
    metrics_.inc("downbeat_song_imports_total", "result=\"refused\"");
    bool too_big = imported.error->find("; the limit is") != std::string::npos;
    throw HttpError{too_big ? ErrorCode::too_large : ErrorCode::bad_request, *imported.error};
  }
  std::vector<core::Command> cmds;
  try {
    cmds = song_create_commands(rt->room, imported, filename, schema_);
  } catch (const core::CommandError& e) {
    metrics_.inc("downbeat_song_imports_total", "result=\"refused\"");
    throw HttpError{e.code(), e.what()};
  }
  json::array songs;
  core::Actor md{c.sub, core::Role::md};
  for (const auto& cmd : cmds) {
    core::Outcome out;
    try {
      out = rt->room.plan(md, cmd, now_us());
    } catch (const core::CommandError& e) {
      throw HttpError{e.code(), filename + ": " + e.what()};
    }
    run(*rt, out, nullptr);  // commit, then every connection (the uploader's console too) gets song.create
    // The uploader gets the stored songs, bodies included (the events carry metadata only).
    const json::object* stored = rt->room.find_song(std::string(out.event_data.at("song").at("id").as_string()));
    songs.push_back(stored ? json::value(*stored) : out.event_data.at("song"));
  }
  metrics_.inc("downbeat_song_imports_total", "result=\"ok\"");
  spdlog::info("songs.imported room={} participant={} file={} format={} songs={} warnings={}", c.room, c.sub, filename,
               importer::to_string(imported.format), songs.size(), imported.warnings.size());
  json::object reply{{"song", songs.front()}, {"songs", songs}, {"format", importer::to_string(imported.format)},
                     {"warnings", warnings_json(filename, imported.warnings)}};
  return reply;
}

SongBody Hub::song_body(const std::string& bearer, const std::string& id) {
  RoomRuntime* rt = nullptr;
  Claims c = member_claims(bearer, rt);
  const json::object* song = rt->room.find_song(id);
  if (!song) {
    metrics_.inc("downbeat_song_bodies_total", "result=\"not_found\"");
    throw HttpError{ErrorCode::not_found, "no song " + id + " in this room's library: it was deleted, or it belongs to another room"};
  }
  json::object meta = core::Room::song_meta(*song);
  SongBody out;
  out.rev = meta.at("body_rev").as_int64();
  out.etag = "\"" + id + "." + std::to_string(out.rev) + "\"";
  const auto* cp = song->if_contains("chordpro");
  meta["chordpro"] = cp && cp->is_string() ? *cp : json::value(nullptr);
  out.json = json::serialize(meta);
  return out;
}

std::pair<std::string, std::string> Hub::export_setlist(const std::string& bearer, const std::string& setlist) {
  RoomRuntime* rt = nullptr;
  member_claims(bearer, rt);
  std::string title;
  try {
    std::string bundle = setlist_bundle(rt->room, setlist, title);
    return {title, std::move(bundle)};
  } catch (const core::CommandError& e) {
    throw HttpError{e.code(), e.what()};
  }
}

}  // namespace downbeat::server
