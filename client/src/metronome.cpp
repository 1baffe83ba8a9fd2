#include "downbeat/metronome.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "downbeat/client.hpp"

namespace downbeat {

struct Metronome::Impl {
  Client& client;
  std::function<void(const ScheduledBeat&)> on_beat;
  int64_t lookahead_us;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread thread;

  void run() {
    // A cursor on the room timeline, not "now": waking a little after a beat's time must still play it.
    constexpr int64_t kLateLimitUs = 50'000;  // later than this it would be heard as a wrong beat: skip it
    int64_t cursor = client.to_server(client.now_local());
    std::unique_lock lock(mu);
    while (!stopping) {
      const int64_t now = client.now_local();
      const int64_t room_now = client.to_server(now);
      // Skip beats too late to play; and start over if the cursor is ahead of the room (set before the clock locked).
      cursor = cursor > room_now + 1'000'000 ? room_now : std::max(cursor, room_now - kLateLimitUs);
      // Ask again on every wake: the tempo or the clock estimate may have changed since the last one.
      auto beat = client.next_beat_from_server(cursor);
      int64_t wait_us = 20'000;
      if (beat) {
        const int64_t due = beat->local_us - lookahead_us;
        if (now >= due) {
          cursor = beat->server_us + 1;
          lock.unlock();
          on_beat(*beat);
          lock.lock();
          continue;
        }
        wait_us = std::min<int64_t>(due - now, 20'000);
      }
      cv.wait_for(lock, std::chrono::microseconds(wait_us), [&] { return stopping; });
    }
  }
};

Metronome::Metronome(Client& client, std::function<void(const ScheduledBeat&)> on_beat, std::chrono::microseconds lookahead)
    : impl_(new Impl{client, std::move(on_beat), lookahead.count(), {}, {}, false, {}}) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

Metronome::~Metronome() { stop(); }

void Metronome::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace downbeat
