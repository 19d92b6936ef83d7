import { describe, expect, it } from 'vitest';
import { retryLater, waitPhrase, withoutClientText } from './errors.js';

describe('waitPhrase', () => {
  it('says the wait in the unit a person reads, rounded up', () => {
    expect(waitPhrase(0)).toBe('in 1 second');
    expect(waitPhrase(1_200)).toBe('in 2 seconds');
    expect(waitPhrase(89_000)).toBe('in 89 seconds');
    expect(waitPhrase(15 * 60_000)).toBe('in 15 minutes');
    expect(waitPhrase(89 * 60_000)).toBe('in 89 minutes');
    expect(waitPhrase(89 * 60_000 + 1)).toBe('in 2 hours');
    expect(waitPhrase(3 * 3_600_000)).toBe('in 3 hours');
  });

  it('puts the same wait in the message and in Retry-After', () => {
    const error = retryLater('rate_limited', (wait) => `Too many attempts; try again ${wait}.`, 125_000);
    expect(error.message).toBe('Too many attempts; try again in 3 minutes.');
    expect(error.retryAfter).toBe(125);
    expect(error.status).toBe(429);
  });
});

describe('withoutClientText', () => {
  it('keeps the names of a schema and short plain unknown keys, never other text the client sent', () => {
    expect(withoutClientText('Invalid option: expected one of "markdown"|"json"')).toBe('Invalid option: expected one of "markdown"|"json"');
    expect(withoutClientText('Unrecognized keys: "extra", "name_2"')).toBe('Unrecognized keys: "extra", "name_2"');
    for (const key of ['<script>x</script>', 'x'.repeat(65), 'a"; drop table users; --', 'na me', '\u202eevil']) {
      const message = withoutClientText(`Unrecognized key: "${key}"`);
      expect(message).not.toContain(key);
      expect(message).toMatch(/^Unrecognized key: remove the fields/);
    }
    expect(withoutClientText('Expected "<img src=x>" here')).toBe('Expected "(a name not shown)" here');
  });
});
