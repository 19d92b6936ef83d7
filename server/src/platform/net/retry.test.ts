import { describe, expect, it } from 'vitest';
import { BACKOFF_CAP_MS, backoffMs, isRetryableStatus, parseRetryAfter, retryDelayMs } from './retry.js';

const now = new Date('2026-01-15T10:00:00Z');

describe('retry policy', () => {
  it('retries only statuses that mean "later"', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(isRetryableStatus(status)).toBe(true);
    for (const status of [200, 301, 400, 401, 403, 404, 409, 422, 501, 505]) expect(isRetryableStatus(status)).toBe(false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((attempt) => backoffMs(attempt, () => 0.999999))).toEqual([249, 499, 999, 1999, 3999, 3999, 3999]);
    expect(backoffMs(3, () => 0)).toBe(0);
    expect(backoffMs(1, () => 0.5)).toBe(250);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(new Date(now.getTime() + 2_000).toUTCString(), now)).toBe(2_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-1', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('honours Retry-After up to the cap, else jitters', () => {
    expect(retryDelayMs(0, '2', now, () => 0.5)).toBe(2_000);
    expect(retryDelayMs(0, '120', now, () => 0.5)).toBe(BACKOFF_CAP_MS);
    expect(retryDelayMs(0, 'garbage', now, () => 0.5)).toBe(125);
  });
});
