// libFuzzer target: untrusted ChordPro (an upload, an import, a song's chart) through the parser and
// the transposer (core/chart), exactly as the server, the CLI and the web app (WebAssembly) use them.
// Invariants: never throws or crashes; every string it returns is valid UTF-8 (embind hands them to
// JS as text); issues name lines that exist; a view moves chords without adding or dropping any;
// check_utf8 agrees with the parser about the first bad line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/chart.hpp"
#include "core/text.hpp"

using namespace downbeat::core;

namespace {

void check_text(std::string_view s) {
  if (!valid_utf8(s)) __builtin_trap();
}

std::size_t check_chart(const chart::Chart& c, std::size_t lines) {
  for (const auto& i : c.issues) {
    if (i.line < 1 || static_cast<std::size_t>(i.line) > lines) __builtin_trap();
    check_text(i.message);
  }
  for (const auto& [k, v] : c.meta) check_text(k), check_text(v);
  std::size_t chords = 0;
  for (const auto& s : c.sections) {
    if (s.name) check_text(*s.name);
    check_text(s.kind);
    for (const auto& l : s.lines) {
      check_text(l.text), check_text(l.name), check_text(l.value);
      for (const auto& seg : l.segments) {
        check_text(seg.text);
        if (seg.chord) check_text(*seg.chord), ++chords;
      }
    }
  }
  return chords;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (char ch : text) lines += ch == '\n';
  auto parsed = chart::parse(text);
  std::size_t chords = check_chart(parsed, lines);
  auto bad = chart::check_utf8(text);
  if (bad.has_value() == valid_utf8(text)) __builtin_trap();
  if (bad) {
    bool named = false;
    for (const auto& i : parsed.issues) named = named || (i.line == *bad && i.message.find("UTF-8") != std::string::npos);
    if (!named) __builtin_trap();
  }
  // The first bytes choose a view, so the fuzzer reaches every key, capo, instrument and Nashville.
  chart::View view;
  if (size > 0) view.capo = data[0] % 9;
  if (size > 1) view.transpose = static_cast<int>(data[1] % 25) - 12;
  if (size > 2) view.pitch = static_cast<chart::Pitch>(data[2] % 4);
  if (size > 3) view.nashville = data[3] & 1;
  if (size > 4 && data[4] & 1) view.play_key = std::string(text.substr(5, data[4] % 5));
  auto r = chart::render(parsed, view);
  if (check_chart(r.chart, lines) != chords) __builtin_trap();
  if (r.keys.semitones < 0 || r.keys.semitones > 11) __builtin_trap();
  if (r.keys.key) check_text(*r.keys.key);
  if (r.keys.shapes_key) check_text(*r.keys.shapes_key);
  for (const auto& n : chart::section_names(parsed)) check_text(n);
  return 0;
}
