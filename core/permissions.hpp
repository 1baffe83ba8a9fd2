#pragma once
// The one role x command table, built from the `roles` lists in protocol/schema.json (the same
// lists the web app and docs/protocol.md read). The server checks it for every command.
#include <optional>
#include <string_view>
#include <vector>

namespace downbeat::core {

enum class Role { md, musician, tech, viewer };

std::string_view to_string(Role role);
std::optional<Role> role_from_string(std::string_view s);
const std::vector<Role>& all_roles();

bool role_may(Role role, std::string_view command_type);
// All command types in the table (for tests and docs).
std::vector<std::string_view> permission_table_commands();

}  // namespace downbeat::core
