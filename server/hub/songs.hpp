#pragma once
// Songs in and out of a room, shared by the HTTP endpoints (hub) and the CLI (`downbeatd song
// import`, `downbeatd setlist export`): an imported file becomes song.create commands planned by
// the room like any MD's, a setlist becomes one ChordPro bundle.
#include <string>
#include <vector>

#include "core/frame.hpp"
#include "core/import.hpp"
#include "core/room.hpp"
#include "core/schema.hpp"

namespace downbeat::server {

// One song.create per song of `imported` (which must be ok()), each checked against the schema and
// against the room's library limit before any is applied: all of a file's songs go in, or none.
// Throws core::CommandError with a message naming `filename`.
std::vector<core::Command> song_create_commands(const core::Room& room, const importer::Result& imported, const std::string& filename,
                                                const core::Schema& schema);

// The setlist as a ChordPro bundle; `title` gets the setlist's title. Throws CommandError (not_found).
std::string setlist_bundle(const core::Room& room, const std::string& setlist, std::string& title);

// A file name for the bundle: the setlist title with only safe characters, ".chordpro" added.
std::string bundle_file_name(const std::string& title);

// [{line, message, text}] for a JSON reply; `text` is the sentence a person reads.
boost::json::array warnings_json(const std::string& filename, const std::vector<importer::Warning>& warnings);

}  // namespace downbeat::server
