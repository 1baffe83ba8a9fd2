#pragma once
// Room administration that needs no running server: create rooms, show and rotate join codes.
#include <map>
#include <string>

#include "core/permissions.hpp"
#include "server/storage/storage.hpp"

namespace downbeat::server {

struct RoomCodes {
  std::string room;
  std::string name;
  std::map<core::Role, std::string> codes;
};

RoomCodes create_room(Storage& storage, const std::string& name);
RoomCodes room_codes(Storage& storage, const std::string& room, bool rotate);
std::string codes_json(const RoomCodes& rc);
// Join URLs and terminal QR codes for each role.
std::string codes_text(const RoomCodes& rc, const std::string& base_url, bool with_qr);
std::string terminal_qr(const std::string& text);

}  // namespace downbeat::server
