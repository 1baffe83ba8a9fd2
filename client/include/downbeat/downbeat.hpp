#pragma once
// libdownbeat in one include.
#include "downbeat/auth.hpp"
#include "downbeat/beat_scheduler.hpp"
#include "downbeat/client.hpp"
#include "downbeat/clock.hpp"
#include "downbeat/error.hpp"
#include "downbeat/event.hpp"
#include "downbeat/metronome.hpp"
#include "downbeat/room_state.hpp"
#include "downbeat/tls.hpp"
#include "downbeat/url.hpp"
