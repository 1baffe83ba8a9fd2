#include "server/app/admin.hpp"

#include <qrencode.h>

#include <boost/json.hpp>
#include <memory>
#include <stdexcept>

#include "server/auth/crypto.hpp"
#include "server/clock.hpp"

namespace downbeat::server {

namespace {
std::map<core::Role, std::string> fresh_codes() {
  std::map<core::Role, std::string> out;
  for (core::Role r : core::all_roles()) out[r] = random_code(10);
  return out;
}
}  // namespace

RoomCodes create_room(Storage& storage, const std::string& name) {
  if (name.empty() || name.size() > 80) throw std::invalid_argument("room name must be 1-80 characters");
  std::string id = "r" + random_hex(4);
  storage.create_room(id, name, now_us());
  auto codes = fresh_codes();
  storage.set_codes(id, codes, unix_us());
  return RoomCodes{id, name, codes};
}

RoomCodes room_codes(Storage& storage, const std::string& room, bool rotate) {
  auto row = storage.room(room);
  if (!row) throw std::invalid_argument("no room " + room + ": `downbeatd room list` shows the rooms");
  if (rotate) storage.set_codes(room, fresh_codes(), unix_us());
  return RoomCodes{row->id, row->name, storage.codes(room)};
}

std::string codes_json(const RoomCodes& rc) {
  boost::json::object codes;
  for (const auto& [role, code] : rc.codes) codes[core::to_string(role)] = code;
  return boost::json::serialize(boost::json::object{{"room", rc.room}, {"codes", std::move(codes)}});
}

std::string terminal_qr(const std::string& text) {
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  if (!qr) return "(QR code could not be made for " + text + ")\n";
  int w = qr->width, quiet = 2, size = w + 2 * quiet;
  auto dark = [&](int x, int y) {
    x -= quiet;
    y -= quiet;
    return x >= 0 && y >= 0 && x < w && y < w && (qr->data[y * w + x] & 1);
  };
  // Two modules per character cell (upper/lower half blocks), light on dark terminals inverted for scanners.
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      bool top = dark(x, y), bottom = dark(x, y + 1);
      out += !top && !bottom ? "\u2588" : !top && bottom ? "\u2580" : top && !bottom ? "\u2584" : " ";
    }
    out += "\n";
  }
  return out;
}

std::string codes_text(const RoomCodes& rc, const std::string& base_url, bool with_qr) {
  std::string out = "Room \"" + rc.name + "\" (" + rc.room + ")\n";
  for (const auto& [role, code] : rc.codes) {
    std::string url = base_url + "/j/" + code;
    out += "  " + std::string(core::to_string(role)) + ": " + url + "\n";
    if (with_qr && (role == core::Role::md || role == core::Role::musician || role == core::Role::tech || role == core::Role::viewer))
      out += terminal_qr(url);
  }
  return out;
}

}  // namespace downbeat::server
