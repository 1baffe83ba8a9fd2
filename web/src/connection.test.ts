import { describe, it, expect } from 'vitest';
import { backoffDelay, PingBook, PING_LOST_AFTER_US } from './connection';

describe('reconnect backoff', () => {
  it('tries twice near 0.5 s, then doubles, and never exceeds 5 s', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    const mid = () => 0.5;
    expect(backoffDelay(0, lo)).toBe(500);
    expect(backoffDelay(0, hi)).toBe(625);
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, mid))).toEqual([500, 500, 1000, 2000, 4000, 5000, 5000]);
    for (let a = 5; a < 100; a++) {
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

describe('ping bookkeeping (lost pings reach the clock estimator, as in the SDK)', () => {
  it('answers only its own waiting pings, once', () => {
    const b = new PingBook();
    b.send(1_000);
    expect(b.answer(999)).toBe(false);   // not ours
    expect(b.answer(1_000)).toBe(true);
    expect(b.answer(1_000)).toBe(false); // a duplicate pong
  });
  it('counts a ping unanswered for 2 s as lost, and a late pong for it no longer counts', () => {
    const b = new PingBook();
    b.send(0);
    b.send(250_000);
    expect(b.expire(PING_LOST_AFTER_US)).toBe(0);           // exactly 2 s: not yet
    expect(b.expire(PING_LOST_AFTER_US + 1)).toBe(1);       // the first is lost
    expect(b.answer(0)).toBe(false);                        // its late pong is not a sample
    expect(b.answer(250_000)).toBe(true);
    expect(b.loss()).toBe(0.5);
  });
  it('a new socket forgets the old pings without counting them lost', () => {
    const b = new PingBook();
    b.send(0);
    b.forget();
    expect(b.expire(10_000_000)).toBe(0);
    expect(b.answer(0)).toBe(false);
    expect(b.loss()).toBe(0);
  });
});
