// Writes docs/protocol.md's message tables (commands and events) from protocol/schema.json, between
// the BEGIN/END markers; the prose around them is written by hand. `--check` writes nothing and
// fails when the committed page differs from what the schema says (ctest protocol_docs).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const schemaPath = resolve(here, '../../protocol/schema.json');
const docsPath = resolve(here, '../../docs/protocol.md');
const BEGIN = '<!-- BEGIN messages: generated from protocol/schema.json by web/scripts/gen-protocol-docs.mjs; edit the schema, then run it -->';
const END = '<!-- END messages -->';

const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
const REF = '#/definitions/';
const pascal = (s) => s.split(/[._-]/).map((p) => p[0].toUpperCase() + p.slice(1)).join('');
// Scalars are spelled out where used; objects are named (see "Objects").
const isObjectDef = (name) => schema.definitions[name].type === 'object';

function range(node) {
  const lo = node.minimum ?? node.minLength ?? node.minItems;
  const hi = node.maximum ?? node.maxLength ?? node.maxItems;
  if (lo === undefined && hi === undefined) return '';
  const unit = node.minLength !== undefined || node.maxLength !== undefined ? ' chars' : node.maxItems !== undefined || node.minItems !== undefined ? ' items' : '';
  if (lo !== undefined && hi !== undefined) return ` ${lo}..${hi}${unit}`;
  return hi !== undefined ? ` ≤ ${hi}${unit}` : ` ≥ ${lo}${unit}`;
}

function shape(node) {
  if (node.$ref) {
    const name = node.$ref.slice(REF.length);
    return isObjectDef(name) ? pascal(name) : name === 'id' ? 'id' : shape(schema.definitions[name]);
  }
  if (node.anyOf) return node.anyOf.map(shape).join(' \\| ');
  if (node.enum) return node.enum.map((v) => (typeof v === 'string' ? `"${v}"` : String(v))).join(' \\| ');
  if (Array.isArray(node.type)) return node.type.map((t) => shape({ ...node, type: t })).join(' \\| ');
  switch (node.type) {
    case 'array': return `[${node.items ? shape(node.items) : ''}]${range(node)}`;
    case 'object': {
      const props = node.properties ?? {};
      const keys = Object.keys(props);
      if (!keys.length) return node.additionalProperties === false ? '{}' : '{…}';
      const req = new Set(node.required ?? []);
      return `{${keys.map((k) => `${k}${req.has(k) ? '' : '?'}: ${shape(props[k])}`).join(', ')}}`;
    }
    default: return `${node.type}${range(node)}`;
  }
}

const cell = (s) => s.replace(/\n/g, ' ');
const lines = [BEGIN, '', '### Commands (client → server)', '',
  'Fields marked `?` may be left out; `durable` commands are acked with the `seq` of their event.', '',
  '| command | roles | durable | data |', '|---|---|---|---|'];
for (const [type, c] of Object.entries(schema.commands))
  lines.push(`| \`${type}\` | ${c.roles.join(', ')} | ${c.durable ? 'yes' : 'no'} | ${cell(shape(c.data))}${c.description ? ` — ${cell(c.description)}` : ''} |`);
lines.push('', '### Events (server → client)', '',
  'Durable events carry `seq`; fields marked `?` may be absent. Objects (Participant, Slot, …) are described above.', '',
  '| event | durable | data | when |', '|---|---|---|---|');
for (const [type, e] of Object.entries(schema.events))
  lines.push(`| \`${type}\` | ${e.durable ? 'yes' : 'no'} | ${cell(shape(e.data))} | ${cell(e.description ?? '')} |`);
// What a field means, where the schema says it (e.g. metrics.report, which the SDK and the web app both send).
const meanings = [];
for (const [type, c] of Object.entries(schema.commands))
  for (const [k, v] of Object.entries(c.data?.properties ?? {}))
    if (v.description) meanings.push(`- \`${type}\` \`${k}\`: ${cell(v.description)}`);
if (meanings.length) lines.push('', '### Field meanings', '', ...meanings);
lines.push('', END);
const table = lines.join('\n');

const doc = readFileSync(docsPath, 'utf8');
const a = doc.indexOf(BEGIN), b = doc.indexOf(END);
if (a < 0 || b < a) {
  console.error(`docs/protocol.md has no ${BEGIN} … ${END} section: put the two markers where the message tables go`);
  process.exit(1);
}
const next = doc.slice(0, a) + table + doc.slice(b + END.length);
if (process.argv.includes('--check')) {
  if (next !== doc) {
    console.error('docs/protocol.md\'s message tables differ from protocol/schema.json: run `node web/scripts/gen-protocol-docs.mjs` and commit the page');
    process.exit(1);
  }
  console.log('docs/protocol.md message tables match protocol/schema.json');
} else if (next !== doc) {
  writeFileSync(docsPath, next);
  console.log('docs/protocol.md: message tables rewritten from protocol/schema.json');
}
