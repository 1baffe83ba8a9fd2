#pragma once
// Songs in and out: importers are pure functions over a file's bytes (fuzzed: fuzz/fuzz_import_*.cpp).
// ChordPro (.cho .chordpro .pro .crd) passes through; OpenLyrics XML, OpenSong XML and plain
// chords-over-lyrics text are converted to ChordPro. A setlist exports as one ChordPro bundle
// (songs separated by {new_song}) that imports back as the same songs.
#include <boost/json.hpp>

#include "core/chart.hpp"
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace downbeat::importer {

// The song chart limit of protocol/schema.json (song.create chordpro maxLength) and the raw file limit.
inline constexpr std::size_t kMaxChordproBytes = 32768;
inline constexpr std::size_t kMaxFileBytes = 256 * 1024;

enum class Format { chordpro, openlyrics, opensong, text };
std::string_view to_string(Format f);

using Meter = chart::Meter;  // {time} as a song field (core/chart)

// The fields of song.create.
struct Song {
  std::string title;
  std::string artist;
  std::string key;
  std::optional<double> bpm;
  std::optional<Meter> meter;
  std::string chordpro;
  bool operator==(const Song&) const = default;
};

// Something kept but worth telling: `line` is 1-based in the imported file (0: the whole file).
struct Warning {
  int line = 0;
  std::string message;
};

struct Result {
  Format format = Format::text;
  std::vector<Song> songs;  // one per song; a ChordPro bundle gives several
  std::vector<Warning> warnings;
  // Set when the file cannot be imported: a sentence naming the file (and line) and what to do.
  std::optional<std::string> error;
  bool ok() const { return !error && !songs.empty(); }
};

// `filename` picks the format by extension (content decides when it is missing or ambiguous) and
// names the file in messages; only its last path component is used.
Result import_file(std::string_view filename, std::string_view bytes);

// "name line N: message" (or "name: message" for line 0).
std::string describe(std::string_view filename, const Warning& w);

// One setlist item for export: the song and the item's overrides (empty = the song's own).
struct ExportItem {
  Song song;
  std::string key;
  std::optional<double> bpm;
  std::string notes;
};

// Every song with {title}, {artist}, {key} (item key first), {tempo} (item bpm first), {time},
// the item notes as {comment}, then the chart without its leading metadata directives.
std::string export_bundle(const std::vector<ExportItem>& items);

// The chart with its leading metadata directives ({title} {t} {artist} {key} {tempo} {time})
// removed: what stays the same when a song goes out and comes back in.
std::string chart_body(std::string_view chordpro);

// song.create data ({title, artist?, key?, bpm?, meter?, chordpro}) and back from a stored song.
boost::json::object to_create_data(const Song& s);
Song song_from_json(const boost::json::object& song);

}  // namespace downbeat::importer
