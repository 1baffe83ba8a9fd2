import { describe, it, expect } from 'vitest';
import { backoffDelay } from './connection';

describe('reconnect backoff', () => {
  it('starts near 0.5 s, doubles, and never exceeds 5 s', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    const mid = () => 0.5;
    expect(backoffDelay(0, lo)).toBe(500);
    expect(backoffDelay(0, hi)).toBe(625);
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, mid))).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    for (let a = 4; a < 100; a++) {
      expect(backoffDelay(a, hi)).toBeLessThanOrEqual(5000);
      expect(backoffDelay(a, lo)).toBeGreaterThanOrEqual(3750);
    }
  });

  it('is jittered so a room of phones does not reconnect in lockstep', () => {
    let x = 0;
    const seq = () => (x = (x + 0.37) % 1);
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(5, seq)));
    expect(delays.size).toBeGreaterThan(10);
  });
});
