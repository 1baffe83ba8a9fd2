// Applies protocol events to a snapshot, exactly as docs/protocol.md describes, so tests can
// check that "snapshot + events" equals a later snapshot.
export function reduce(state, msg) {
  const s = structuredClone(state);
  const d = msg.data;
  const byId = (list, id) => list.findIndex((x) => x.id === id);
  const upsert = (list, obj) => { const i = byId(list, obj.id); if (i < 0) list.push(obj); else list[i] = obj; };
  const syncParticipantSlots = () => {
    for (const p of s.participants) p.slot = (s.slots.find((x) => x.participant === p.id) || {}).id || null;
  };
  switch (msg.type) {
    case 'participant.join': upsert(s.participants, d.participant); break;
    case 'participant.leave': {
      if (d.reason === 'offline') {
        const p = s.participants.find((x) => x.id === d.participant);
        if (p) p.online = false;
      } else {
        s.participants = s.participants.filter((x) => x.id !== d.participant);
        for (const slot of s.slots) if (slot.participant === d.participant) slot.participant = null;
      }
      break;
    }
    case 'slot.create': case 'slot.update': case 'slot.release': upsert(s.slots, d.slot); break;
    case 'slot.assign':
      for (const slot of s.slots) if (slot.participant === d.slot.participant && slot.id !== d.slot.id) slot.participant = null;
      upsert(s.slots, d.slot);
      break;
    case 'slot.delete': s.slots = s.slots.filter((x) => x.id !== d.slot); break;
    case 'song.create': case 'song.update': upsert(s.songs, d.song); break;
    case 'song.delete': s.songs = s.songs.filter((x) => x.id !== d.id); break;
    case 'setlist.update': upsert(s.setlists, d.setlist); break;
    case 'setlist.delete':
      s.setlists = s.setlists.filter((x) => x.id !== d.id);
      if (s.song_current && s.song_current.setlist === d.id) { s.song_current = null; s.active_setlist = null; }
      break;
    case 'song.current': s.song_current = d; s.active_setlist = d.setlist; break;
    case 'tempo.anchor': s.tempo = d.tempo; break;
    case 'room.settings': s.room = { ...s.room, settings: d.settings }; break;
    // A cue to everyone replaces every current cue; a cue to a group replaces that group's.
    case 'cue': s.cues = [...(d.cue.group === null ? [] : (s.cues || []).filter((c) => c.group !== d.cue.group)), d.cue]; break;
    case 'cue.clear': s.cues = d.group == null ? [] : (s.cues || []).filter((c) => c.group !== d.group); break;
    default: return s;
  }
  syncParticipantSlots();
  if (typeof msg.seq === 'number') s.seq = msg.seq;
  return s;
}
