import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { BreakerRegistry, CircuitBreaker } from './circuit-breaker.js';
import { NetError } from './errors.js';

function setup() {
  const clock = new ManualClock();
  return { clock, breaker: new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000, clock }) };
}

function expectOpen(breaker: CircuitBreaker): void {
  expect(() => breaker.before()).toThrow(NetError);
  try {
    breaker.before();
  } catch (error) {
    expect((error as NetError).code).toBe('circuit_open');
  }
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures and refuses fast', () => {
    const { breaker } = setup();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.before();
    breaker.failure();
    expect(breaker.state).toBe('open');
    expectOpen(breaker);
  });

  it('counts consecutive failures only: a success resets the count', () => {
    const { breaker } = setup();
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
  });

  it('lets one trial through after the cooldown; its success closes the circuit', () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    clock.advance(999);
    expectOpen(breaker);
    clock.advance(1);
    expect(breaker.state).toBe('half_open');
    breaker.before(); // the trial
    expectOpen(breaker); // only one at a time
    breaker.success();
    expect(breaker.state).toBe('closed');
    breaker.before();
  });

  it('re-opens for a full cooldown when the trial fails', () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    clock.advance(1_000);
    breaker.before();
    breaker.failure();
    expect(breaker.state).toBe('open');
    clock.advance(999);
    expectOpen(breaker);
    clock.advance(1);
    breaker.before();
  });

  it('frees the trial slot on release, and reclaims a trial that never reported', () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    clock.advance(1_000);
    breaker.before();
    breaker.release();
    breaker.before(); // a new trial right away
    expectOpen(breaker);
    clock.advance(1_000); // that trial's caller vanished
    breaker.before();
    expect(breaker.state).toBe('half_open');
  });

  it('validates its options', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0, cooldownMs: 1 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failureThreshold: 1, cooldownMs: -1 })).toThrow(RangeError);
  });
});

describe('BreakerRegistry', () => {
  it('returns one breaker per key', () => {
    const registry = new BreakerRegistry({ failureThreshold: 1, cooldownMs: 1_000 });
    const a = registry.get('a');
    expect(registry.get('a')).toBe(a);
    expect(registry.get('b')).not.toBe(a);
    registry.delete('a');
    expect(registry.get('a')).not.toBe(a);
  });

  it('is bounded, evicting the least recently used key', () => {
    const registry = new BreakerRegistry({ failureThreshold: 1, cooldownMs: 1_000, maxKeys: 2 });
    const a = registry.get('a');
    const b = registry.get('b');
    registry.get('a'); // a is now the most recent
    registry.get('c'); // evicts b
    expect(registry.size).toBe(2);
    expect(registry.get('a')).toBe(a);
    expect(registry.get('b')).not.toBe(b);
  });
});
