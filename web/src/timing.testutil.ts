// Loads the timing module for vitest: node's fetch cannot read a file URL, so the module gets the
// bytes of the file vite bundles (src/gen/timing.wasm, built by wasm/build.sh).
import { readFileSync } from 'node:fs';
import { initTiming } from './timing';

export function loadTiming(): Promise<void> {
  return initTiming({ wasmBinary: readFileSync(new URL('./gen/timing.wasm', import.meta.url)) });
}
