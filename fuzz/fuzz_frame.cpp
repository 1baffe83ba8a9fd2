// libFuzzer target: one untrusted WebSocket text frame through parsing, schema validation and the
// room's planning (as an MD, the role with the most code paths). Must never crash or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/frame.hpp"
#include "core/room.hpp"

using namespace downbeat::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_frame(text, Schema::builtin());
  if (!parsed.command) return 0;
  // A fresh room every 1000 inputs: accepted commands accumulate songs, slots and setlists, and a
  // room thousands of entities large makes every input slower (300 execs/s after 60 000 inputs, on the reference machine).
  static unsigned n = 0;
  static Room room("r1", "Fuzz");
  if (n++ % 1000 == 0) {
    room = Room("r1", "Fuzz");
    room.apply_mutation(Mutation{"participant", "p1", Room::participant_record(Participant{"p1", "MD", "dev00001", Role::md, true, 0, false, false}), false});
    // A second voice participant, so rtc.* reaches the signalling checks instead of stopping at "yourself".
    room.apply_mutation(Mutation{"participant", "p2", Room::participant_record(Participant{"p2", "Keys", "dev00002", Role::musician, true, 0, false, false}), false});
  }
  try {
    auto out = room.plan(Actor{"p1", Role::md}, *parsed.command, 1'000'000);
    room.apply(out, room.seq() + 1);
  } catch (const CommandError&) {
  }
  return 0;
}
