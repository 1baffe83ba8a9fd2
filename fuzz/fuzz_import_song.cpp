// libFuzzer target: an untrusted song file through the importer (core/import.hpp): UTF-8 and size
// checks, expat and the OpenLyrics / OpenSong walkers, chords-over-lyrics merging, ChordPro bundles
// through the chart parser, then the export of what came in. The first byte picks the file name
// (so every format's path is reached), the rest is the file.
// Invariants: an accepted song fits song.create (title 1-120 characters, UTF-8 everywhere, chart
// within 32768 bytes, key/bpm/meter in range); a refused file imports no song.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/import.hpp"
#include "core/text.hpp"

using namespace downbeat::importer;

namespace {
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const char* names[] = {"song.cho", "song.xml", "song", "song.txt", "song.chordpro", "song.pro", "song.crd", "song.pdf"};
  if (size == 0) return 0;
  std::string_view name = names[data[0] % (sizeof(names) / sizeof(names[0]))];
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  Result r = import_file(name, bytes);
  if (r.error && !r.songs.empty()) __builtin_trap();
  if (!r.error && r.songs.empty()) __builtin_trap();
  std::vector<ExportItem> items;
  for (const auto& s : r.songs) {
    if (!downbeat::core::has_visible_text(s.title) || code_points(s.title) > 120) __builtin_trap();
    if (!downbeat::core::valid_utf8(s.artist) || code_points(s.artist) > 120) __builtin_trap();
    if (s.chordpro.size() > kMaxChordproBytes || !downbeat::core::valid_utf8(s.chordpro)) __builtin_trap();
    if (s.key.size() > 8 || (s.bpm && (*s.bpm < 20 || *s.bpm > 400))) __builtin_trap();
    if (s.meter && (s.meter->beats < 1 || s.meter->beats > 32)) __builtin_trap();
    items.push_back({s, {}, {}, {}});
  }
  for (const auto& w : r.warnings) (void)describe(name, w);
  if (!items.empty()) {
    std::string bundle = export_bundle(items);
    Result again = import_file("again.chordpro", bundle);
    if (again.error && !again.songs.empty()) __builtin_trap();
  }
  return 0;
}
