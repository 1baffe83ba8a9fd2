#pragma once
// Who may talk to whom: the one talk-target table (role x kind of target) and the resolution of a
// target into the participants who hear it. The server checks every ptt.press against it.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/permissions.hpp"

namespace downbeat::core {

enum class TalkKind { all, md, group, participant };

struct TalkTarget {
  TalkKind kind = TalkKind::md;
  std::string name;  // group name or participant id; empty for all / md
};

// "all" | "md" | "@<participant id>" | "<group>"; nullopt for an empty or malformed target.
std::optional<TalkTarget> parse_talk_target(std::string_view target);

enum class TalkRule {
  never,
  always,
  own_group,     // only the group of the talker's own slot
  if_room_allows  // only when the room's talk_all setting lists the role
};

TalkRule talk_rule(Role role, TalkKind kind);

// Roles that may take part in voice at all (send or receive); viewers are stage displays.
inline bool voice_role(Role role) { return role != Role::viewer; }

}  // namespace downbeat::core
