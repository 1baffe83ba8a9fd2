// Every frame the server sends, checked against protocol/schema.json with a real JSON Schema
// validator (ajv): the envelope (frames.event / ack / error), then an event's data against
// events[type].data, and `seq` on exactly the durable events (a tempo.anchor resend has none).
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';

export const schema = JSON.parse(readFileSync(new URL('../../../protocol/schema.json', import.meta.url), 'utf8'));

const ajv = new Ajv({ allowUnionTypes: true });
const compile = (node) => ajv.compile({ definitions: schema.definitions, allOf: [node] });
const envelopes = Object.fromEntries(['event', 'ack', 'error'].map((k) => [k, compile(schema.frames[k])]));
const events = Object.fromEntries(Object.entries(schema.events).map(([type, e]) => [type, { durable: e.durable, validate: compile(e.data) }]));

const say = (validate) => validate.errors.map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params?.additionalProperty ? ` "${e.params.additionalProperty}"` : ''}`).join('; ');

/** null when `frame` (a parsed server frame) is what the schema says, else what is wrong with it. */
export function frameError(frame) {
  const kind = frame?.type === 'ack' || frame?.type === 'error' ? frame.type : 'event';
  const envelope = envelopes[kind];
  if (!envelope(frame)) return `${frame?.type} frame: ${say(envelope)}`;
  if (kind !== 'event') return null;
  const ev = events[frame.type];
  if (!ev) return `event type "${frame.type}" is not in protocol/schema.json`;
  if (!ev.validate(frame.data)) return `${frame.type} data: ${say(ev.validate)}`;
  const resend = frame.type === 'tempo.anchor' && frame.data.resend === true;
  if (ev.durable && !resend && typeof frame.seq !== 'number') return `${frame.type} is durable but came without seq`;
  if ((!ev.durable || resend) && frame.seq !== undefined) return `${frame.type} is not durable${resend ? ' (a resend)' : ''} but came with seq ${frame.seq}`;
  return null;
}
