// Seeds fuzz/corpus/frame from protocol/vectors/frames.json (every valid and invalid vector's exact
// frame text), named by content so reruns add only what is new. Never deletes: inputs that once
// crashed a target stay in the corpus as regression tests.  Usage: node fuzz/seed_corpus.mjs
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const vectors = JSON.parse(readFileSync(join(root, 'protocol/vectors/frames.json'), 'utf8'));
const dir = join(root, 'fuzz/corpus/frame');
const have = new Set(readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')));
let added = 0;
for (const v of [...vectors.valid, ...vectors.invalid]) {
  if (have.has(v.frame)) continue;
  writeFileSync(join(dir, `vec-${createHash('sha1').update(v.frame).digest('hex').slice(0, 10)}.json`), v.frame);
  have.add(v.frame);
  added++;
}
console.log(`fuzz/corpus/frame: ${added} new vector(s), ${have.size} inputs`);
