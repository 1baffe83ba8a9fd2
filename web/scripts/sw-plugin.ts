// Emits dist/sw.js: sw/sw.js with the list of built files and a version hash injected.
// (A hand-written worker instead of Workbox keeps the toolchain small and Node 18 friendly.)
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';

export function serviceWorker(): Plugin {
  return {
    name: 'downbeat-sw',
    apply: 'build',
    generateBundle(_opts, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map') && f !== 'sw.js').sort();
      const hash = createHash('sha256');
      for (const f of files) {
        const item = bundle[f];
        hash.update(f);
        hash.update(item.type === 'chunk' ? item.code : typeof item.source === 'string' ? item.source : Buffer.from(item.source));
      }
      const version = hash.digest('hex').slice(0, 12);
      let publicFiles: string[] = [];
      try { publicFiles = readdirSync(resolve(__dirname, '../public')); } catch { /* no public dir */ }
      const precache = ['/', ...[...files.filter((f) => f !== 'index.html'), ...publicFiles].map((f) => '/' + f)];
      const src = readFileSync(resolve(__dirname, '../sw/sw.js'), 'utf8')
        .replace('__VERSION__', version)
        .replace('__PRECACHE__', JSON.stringify(precache));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: src });
    },
  };
}
