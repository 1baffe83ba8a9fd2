// A tiny observable store and a Preact hook to read a slice of it.
import { useEffect, useState } from 'preact/hooks';

export class Store<T> {
  private subs = new Set<(v: T) => void>();
  constructor(private value: T) {}
  get(): T { return this.value; }
  set(next: T | ((v: T) => T)): void {
    const v = typeof next === 'function' ? (next as (v: T) => T)(this.value) : next;
    if (v === this.value) return;
    this.value = v;
    for (const s of this.subs) s(v);
  }
  patch(p: Partial<T>): void { this.set({ ...this.value, ...p }); }
  subscribe(fn: (v: T) => void): () => void { this.subs.add(fn); return () => this.subs.delete(fn); }
}

export function useStore<T, S>(store: Store<T>, select: (v: T) => S): S {
  const [, force] = useState(0);
  const [val, setVal] = useState(() => select(store.get()));
  useEffect(() => {
    let last = select(store.get());
    setVal(() => last);
    return store.subscribe((v) => {
      const next = select(v);
      if (!Object.is(next, last)) { last = next; setVal(() => next); force((n) => n + 1); }
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);
  return val;
}
