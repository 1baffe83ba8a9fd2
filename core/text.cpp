#include "core/text.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

namespace downbeat::core {

namespace {
// Decodes one code point at `i`; nullopt for invalid UTF-8 (overlong forms, surrogates included).
std::optional<char32_t> decode(std::string_view s, std::size_t& i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return std::nullopt;
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  constexpr std::array<char32_t, 5> kMin{0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  i += n;
  return cp;
}

// White space (Unicode White_Space) and the invisible format characters people paste by accident.
constexpr std::array<std::pair<char32_t, char32_t>, 27> kInvisible{{
    {0x0000, 0x0020}, {0x007F, 0x00A0}, {0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C},
    {0x115F, 0x1160}, {0x1680, 0x1680}, {0x17B4, 0x17B5}, {0x180B, 0x180F}, {0x2000, 0x200F},
    {0x2028, 0x202F}, {0x205F, 0x206F}, {0x2800, 0x2800}, {0x3000, 0x3000}, {0x3164, 0x3164},
    {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFF8}, {0x1D173, 0x1D17A},
    {0xE0000, 0xE0FFF}, {0x133FC, 0x133FC}, {0x1BCA0, 0x1BCA3}, {0x0085, 0x0085}, {0x2061, 0x2064},
    {0xFFFC, 0xFFFC}, {0x0600, 0x0605},
}};

bool invisible(char32_t cp) {
  for (const auto& [lo, hi] : kInvisible)
    if (cp >= lo && cp <= hi) return true;
  return false;
}
}  // namespace

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();)
    if (!decode(s, i)) return false;
  return true;
}

bool has_visible_text(std::string_view s) {
  bool visible = false;
  for (std::size_t i = 0; i < s.size();) {
    auto cp = decode(s, i);
    if (!cp) return false;
    if (!invisible(*cp)) visible = true;
  }
  return visible;
}

std::string trim_invisible(std::string_view s) {
  std::size_t start = s.size(), end = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t at = i;
    auto cp = decode(s, i);
    if (!cp) return std::string(s);  // not ours to repair: the caller rejects invalid UTF-8
    if (!invisible(*cp)) {
      if (start == s.size()) start = at;
      end = i;
    }
  }
  return start == s.size() ? std::string() : std::string(s.substr(start, end - start));
}

}  // namespace downbeat::core
