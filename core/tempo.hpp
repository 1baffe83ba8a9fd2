#pragma once
// The room's tempo (core/tempo_math.hpp: the state, its changes and the beat arithmetic) and its
// wire form, tempo.anchor / snapshot `tempo` (Boost.JSON: server and SDK only).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/tempo_math.hpp"

namespace downbeat::core {

// {running,bpm,meter:{beats,unit},accents,subdivision,count_in_bars,anchor:{t,bar},rev,prev:{…}|null}.
// bpm is always a JSON double so readers can rely on one type.
boost::json::object to_json(const TempoState&);
boost::json::object to_json(const TempoSegment&);  // the `prev` shape: no rev, no prev
// Inverse of to_json. Missing or mistyped fields take their defaults; never throws.
TempoState tempo_from_json(const boost::json::value&);

}  // namespace downbeat::core
