/** The Monitoring settings in config.ts: weak tokens and clashing ports are refused at start. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../config/index.js';

function problems(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('Monitoring settings', () => {
  it('exposes nothing by default and binds the metrics listener to loopback', () => {
    expect(loadConfig({})).toMatchObject({ METRICS_TOKEN: undefined, METRICS_PORT: undefined, METRICS_HOST: '127.0.0.1' });
  });

  it('refuses short or spaced tokens without echoing them, and a port equal to PORT', () => {
    const short = 'short-token-value';
    const found = problems({ METRICS_TOKEN: short, METRICS_PORT: '3000', PORT: '3000' });
    expect(found).toEqual([expect.stringMatching(/^METRICS_TOKEN: 32 to 512 printable characters/), expect.stringMatching(/^METRICS_PORT: must differ from PORT/)]);
    expect(found.join()).not.toContain(short);
    expect(problems({ METRICS_TOKEN: `${'k'.repeat(20)} ${'k'.repeat(20)}` })).toHaveLength(1);
    expect(problems({ METRICS_PORT: '70000' })[0]).toMatch(/^METRICS_PORT:/);
  });

  it('refuses a guessable token in production', () => {
    const production: Env = { NODE_ENV: 'production' };
    const weak = problems({ ...production, METRICS_TOKEN: 'a'.repeat(40) }).filter((p) => p.startsWith('METRICS_TOKEN'));
    expect(weak).toEqual([expect.stringContaining('too weak')]);
    const strong = problems({ ...production, METRICS_TOKEN: randomBytes(32).toString('hex') }).filter((p) => p.startsWith('METRICS_TOKEN'));
    expect(strong).toEqual([]);
  });
});
