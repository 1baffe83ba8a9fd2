#include "core/talk.hpp"

#include <array>

namespace downbeat::core {

namespace {
struct Entry {
  Role role;
  TalkRule all, md, group, participant;
};

// The MD reaches everyone; the tech reaches any group or person; a musician talks back to the
// MD and to their own group. `all` for others only when the MD allows it in the room settings.
constexpr std::array kTable{
    //    role             all                        md                group                participant
    Entry{Role::md,       TalkRule::always,          TalkRule::always, TalkRule::always,    TalkRule::always},
    Entry{Role::musician, TalkRule::if_room_allows,  TalkRule::always, TalkRule::own_group, TalkRule::never},
    Entry{Role::tech,     TalkRule::if_room_allows,  TalkRule::always, TalkRule::always,    TalkRule::always},
    Entry{Role::viewer,   TalkRule::never,           TalkRule::never,  TalkRule::never,     TalkRule::never},
};
}  // namespace

std::optional<TalkTarget> parse_talk_target(std::string_view target) {
  if (target.empty()) return std::nullopt;
  if (target == "all") return TalkTarget{TalkKind::all, {}};
  if (target == "md") return TalkTarget{TalkKind::md, {}};
  if (target.front() == '@') {
    if (target.size() == 1) return std::nullopt;
    return TalkTarget{TalkKind::participant, std::string(target.substr(1))};
  }
  return TalkTarget{TalkKind::group, std::string(target)};
}

TalkRule talk_rule(Role role, TalkKind kind) {
  for (const auto& e : kTable) {
    if (e.role != role) continue;
    switch (kind) {
      case TalkKind::all: return e.all;
      case TalkKind::md: return e.md;
      case TalkKind::group: return e.group;
      case TalkKind::participant: return e.participant;
    }
  }
  return TalkRule::never;
}

}  // namespace downbeat::core
