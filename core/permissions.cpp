#include "core/permissions.hpp"

#include <array>
#include <initializer_list>

namespace downbeat::core {

namespace {
struct Entry {
  std::string_view type;
  bool md, musician, tech, viewer;
};

// Musicians may use slot.assign / slot.release only for themselves, and techs may cue / clear only
// the "tech" group; the room logic checks those parts.
constexpr std::array kTable{
    //     command              md     musician tech   viewer
    Entry{"time.ping",          true,  true,  true,  true},
    Entry{"slot.create",        true,  false, false, false},
    Entry{"slot.update",        true,  false, false, false},
    Entry{"slot.delete",        true,  false, false, false},
    Entry{"slot.order",         true,  false, false, false},
    Entry{"slot.assign",        true,  true,  false, false},
    Entry{"slot.release",       true,  true,  false, false},
    Entry{"song.create",        true,  false, false, false},
    Entry{"song.update",        true,  false, false, false},
    Entry{"song.delete",        true,  false, false, false},
    Entry{"setlist.update",     true,  false, false, false},
    Entry{"setlist.delete",     true,  false, false, false},
    Entry{"song.current",       true,  false, false, false},
    Entry{"tempo.set",          true,  false, false, false},
    Entry{"tempo.start",        true,  false, false, false},
    Entry{"tempo.stop",         true,  false, false, false},
    Entry{"cue",                true,  false, true,  false},
    Entry{"cue.clear",          true,  false, true,  false},
    Entry{"ptt.press",          true,  true,  true,  false},
    Entry{"ptt.release",        true,  true,  true,  false},
    Entry{"rtc.offer",          true,  true,  true,  false},
    Entry{"rtc.answer",         true,  true,  true,  false},
    Entry{"rtc.ice",            true,  true,  true,  false},
    Entry{"rtc.restart",        true,  true,  true,  false},
    Entry{"metrics.report",     true,  true,  true,  true},
    Entry{"room.settings",      true,  false, false, false},
    Entry{"participant.kick",   true,  false, false, false},
    Entry{"resync.request",     true,  true,  true,  true},
};
}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::md: return "md";
    case Role::musician: return "musician";
    case Role::tech: return "tech";
    case Role::viewer: return "viewer";
  }
  return "viewer";
}

std::optional<Role> role_from_string(std::string_view s) {
  for (Role r : all_roles())
    if (to_string(r) == s) return r;
  return std::nullopt;
}

const std::vector<Role>& all_roles() {
  static const std::vector<Role> roles{Role::md, Role::musician, Role::tech, Role::viewer};
  return roles;
}

bool role_may(Role role, std::string_view command_type) {
  for (const auto& e : kTable) {
    if (e.type != command_type) continue;
    switch (role) {
      case Role::md: return e.md;
      case Role::musician: return e.musician;
      case Role::tech: return e.tech;
      case Role::viewer: return e.viewer;
    }
  }
  return false;
}

std::vector<std::string_view> permission_table_commands() {
  std::vector<std::string_view> out;
  for (const auto& e : kTable) out.push_back(e.type);
  return out;
}

}  // namespace downbeat::core
