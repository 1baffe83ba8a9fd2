#include "core/permissions.hpp"

#include <array>
#include <map>
#include <stdexcept>
#include <string>

#include "core/schema.hpp"

namespace downbeat::core {

namespace {
// The role x command table, read once from the `roles` of each command in protocol/schema.json
// (the same lists the web app and the docs read). Musicians may use slot.assign / slot.release
// only for themselves, and techs may cue / clear only the "tech" group: the room checks those parts.
using Allowed = std::array<bool, 4>;  // indexed by Role

std::size_t index_of(Role r) { return static_cast<std::size_t>(r); }

const std::map<std::string, Allowed, std::less<>>& table() {
  static const auto built = [] {
    const Schema& schema = Schema::builtin();
    // The Role enum and the schema's role list must be the same four names, or a role would be
    // checked against a table that does not know it.
    std::vector<std::string> names;
    for (Role r : all_roles()) names.emplace_back(to_string(r));
    if (names != schema.roles()) throw std::logic_error("protocol/schema.json roles differ from core::Role (md, musician, tech, viewer)");
    std::map<std::string, Allowed, std::less<>> t;
    for (const auto& [type, spec] : schema.commands()) {
      Allowed a{};
      for (Role r : all_roles()) a[index_of(r)] = spec.roles.count(std::string(to_string(r))) == 1;
      t.emplace(type, a);
    }
    return t;
  }();
  return built;
}
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
  const auto& t = table();
  auto it = t.find(command_type);
  return it != t.end() && it->second[index_of(role)];
}

std::vector<std::string_view> permission_table_commands() {
  std::vector<std::string_view> out;
  for (const auto& [type, allowed] : table()) out.push_back(type);
  return out;
}

}  // namespace downbeat::core
