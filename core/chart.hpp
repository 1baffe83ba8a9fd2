#pragma once
// ChordPro charts: the one parser and transposer every part of Downbeat uses (import and
// validation in the server and CLI, rendering in the web app through WebAssembly).
// Pure functions, no I/O, no Boost (this file and chart.cpp also compile with em++), never throw.
// What is accepted and how chords are moved and spelled: docs/charts.md.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace downbeat::core::chart {

struct Segment {
  std::optional<std::string> chord;  // the chord over `text`; nullopt for text before the first chord
  std::string text;
};

struct Line {
  enum class Kind { lyrics, comment, blank, directive };
  Kind kind = Kind::blank;
  std::vector<Segment> segments;  // lyrics
  std::string text;               // comment
  std::string name, value;        // directive (kept as written: unknown and formatting directives)
};

struct Section {
  std::optional<std::string> name;  // "Verse 2", "Chorus"; nullopt for lines outside any section
  std::string kind;                 // verse, chorus, bridge, tab, grid, intro, … ; "none" outside sections
  std::vector<Line> lines;
};

struct Issue {
  int line = 0;  // 1-based
  std::string message;
};

struct Chart {
  std::optional<std::string> title, subtitle, artist, key, tempo, time;
  // Every metadata directive by its long name (t → title, st → subtitle), last one wins, in first-seen order;
  // unknown directives too (they are also kept as directive lines where they stand).
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<Section> sections;
  std::vector<Issue> issues;

  // The value of meta directive `name`, if present.
  const std::string* meta_value(std::string_view name) const;
};

// Parses ChordPro text. Never throws; malformed input (unclosed '[' or '{', invalid UTF-8) is kept
// as text with an issue naming the line.
Chart parse(std::string_view text);

// {tempo} and {time} values as song fields: a bpm between 20 and 400 ("120", "96.5 bpm") and a
// meter like 6/8 (beats 1-32, unit 1/2/4/8/16); nullopt when the value is not one.
struct Meter {
  int beats = 4;
  int unit = 4;
  bool operator==(const Meter&) const = default;
};
std::optional<double> song_bpm(std::string_view value);
std::optional<Meter> song_meter(std::string_view value);

// Section names in order, each once (for the MD's section buttons).
std::vector<std::string> section_names(const Chart& chart);

// The first line (1-based) that is not valid UTF-8, or nullopt when all of `text` is valid.
std::optional<int> check_utf8(std::string_view text);

// ---- Keys and transposition ----------------------------------------------------------------

struct Key {
  int root = 0;  // pitch class, C = 0
  bool minor = false;
  // Spelling as written ("Gb" → flats, "F#" → sharps); nullopt for the conventional spelling of the key.
  std::optional<bool> flats;
};

// "C", "F#m", "Bb", "E♭m", "C minor", "Db major"; nullopt for anything else.
std::optional<Key> parse_key(std::string_view text);
// The conventional name of a key: flats for F Bb Eb Ab Db (major) and Dm Gm Cm Fm Bbm (minor),
// sharps otherwise; the six-accidental keys are F# major and D#m (see docs/charts.md).
std::string key_name(Key key);
// Whether chords in `key` are spelled with flats (the written spelling first, else the convention).
bool key_uses_flats(Key key);

enum class Pitch { C, Bb, Eb, F };
// "C", "Bb"/"B♭", "Eb"/"E♭", "F"; nullopt for anything else.
std::optional<Pitch> parse_pitch(std::string_view text);
// Semitones an instrument in `pitch` reads above concert pitch: C 0, Bb +2, Eb +9, F +7.
int pitch_offset(Pitch pitch);

// What one reader sees: the song moved to the play key, written for the instrument, capo, extra shift.
struct View {
  std::optional<std::string> song_key;  // the song's key; when absent, inferred from the chart
  std::optional<std::string> play_key;  // the setlist item's key; when absent, the song key
  int capo = 0;                         // 0..7 (clamped)
  Pitch pitch = Pitch::C;
  int transpose = 0;  // −11..11 (clamped)
  bool nashville = false;
};

struct Keys {
  std::optional<std::string> key;         // the key the reader reads (play key for the instrument, before capo)
  std::optional<std::string> shapes_key;  // the key of the chords shown (after capo)
  int semitones = 0;                      // 0..11: how far every chord moves
};

// The keys and the shift for `view`; `inferred` is the song key to use when the view has none.
Keys keys_for(const View& view, std::optional<std::string> inferred = std::nullopt);

// The song's key from the {key} directive, else from the first chord ("Am7" → "Am"); nullopt without either.
std::optional<std::string> infer_key(const Chart& chart);

// Moves one chord symbol ("F#m7/C#", "Bbsus4", "C6/9") by `semitones`, spelled for `target`
// (nullopt: sharps for C# F#, flats for Eb Ab Bb). Text that is not a chord is returned unchanged.
std::string transpose_chord(std::string_view chord, int semitones, std::optional<Key> target);

// The chord as a Nashville number relative to `key` ("G/B" in C → "5/7", "Am7" → "6m7", "Bb" → "b7").
// Text that is not a chord is returned unchanged.
std::string nashville_chord(std::string_view chord, Key key);

struct Rendered {
  Chart chart;  // with chords moved (or numbered) for the view
  Keys keys;
};

// The chart as `view` reads it: chords moved from the song key to the reader's shapes key (or
// Nashville numbers), grid lines too; tab sections and unknown chord text unchanged.
Rendered render(const Chart& chart, const View& view);

}  // namespace downbeat::core::chart

namespace downbeat {
namespace chart = core::chart;  // `downbeat::chart::parse` reads as well
}
