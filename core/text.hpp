#pragma once
// What counts as text a person can see: names, titles and cue texts must have some.
// A name of zero-width joiners, a BOM or spaces alone looks like nobody on every screen.
#include <string>
#include <string_view>

namespace downbeat::core {

// True when `utf8` is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view utf8);

// True when `utf8` is valid UTF-8 and has at least one code point that is neither white space
// nor an invisible format character (zero-width spaces and joiners, BOM, bidi controls, …).
bool has_visible_text(std::string_view utf8);

// `utf8` without leading and trailing white space and invisible format characters.
std::string trim_invisible(std::string_view utf8);

}  // namespace downbeat::core
