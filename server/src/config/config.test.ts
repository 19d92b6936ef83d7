import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, entropyBits, loadConfig, type Env } from './index.js';
import { renderEnvExample, renderVariableTable } from './docs.js';

const KEY_A = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 73 + 11) % 251)).toString('base64');
const KEY_B = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 41 + 7) % 241)).toString('base64');

const PRODUCTION: Env = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://bastion.example.org',
  // secretlint-disable-next-line -- fake credentials of a test fixture
  DATABASE_URL: 'postgres://bastion:Vq8r2LkP0zXw9mNt@db.internal:5432/bastion',
  REDIS_URL: 'rediss://:Hs7dK2pQ9wErT5yU@cache.internal:6380',
  MASTER_KEYS: `k1:${KEY_A}`,
  CORS_ORIGINS: 'https://app.example.org',
  // secretlint-disable-next-line -- fake credentials of a test fixture
  SMTP_URL: 'smtp://bastion:Pw7xQ2mR9kL4vZ8n@mail.internal:587',
};

function problems(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('runs with no variables at all, on the embedded defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: 3000,
      PUBLIC_URL: 'http://127.0.0.1:3000',
      DB_POOL_MAX: 10,
      CORS_ORIGINS: [],
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.MASTER_KEYS).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.DATA_DIR).toMatch(/\/data$/);
  });

  it('coerces and normalises values', () => {
    const config = loadConfig({ PORT: '8080', CORS_ORIGINS: ' https://a.example , http://localhost:5173 ', PUBLIC_URL: 'https://x.example/' });
    expect(config.PORT).toBe(8080);
    expect(config.CORS_ORIGINS).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(config.PUBLIC_URL).toBe('https://x.example');
  });

  it('lists every bad variable by name in one error', () => {
    const found = problems({ PORT: 'eighty', DB_POOL_MAX: '0', LOG_LEVEL: 'loud', CORS_ORIGINS: 'example.com', NODE_ENV: 'staging' });
    expect(found.map((p) => p.split(':')[0])).toEqual(['NODE_ENV', 'PORT', 'LOG_LEVEL', 'DB_POOL_MAX', 'CORS_ORIGINS']);
    expect(() => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud' })).toThrow(/PORT[\s\S]*LOG_LEVEL/);
  });

  it('never echoes secret values in its errors [ASVS 16.2.5]', () => {
    const secret = 'hunter2-Sup3rSecret';
    let message = '';
    try {
      loadConfig({
        DATABASE_URL: `mysql://root:${secret}@db/x`,
        REDIS_URL: `http://:${secret}@cache`,
        MASTER_KEYS: `k1:${secret}`,
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/DATABASE_URL/);
    expect(message).toMatch(/REDIS_URL/);
    expect(message).toMatch(/MASTER_KEYS/);
    expect(message).not.toContain(secret);
    expect(message).not.toContain('hunter2');
  });

  it('validates master keys: length, duplicates, randomness and the active mark', () => {
    expect(problems({ MASTER_KEYS: `k1:${Buffer.alloc(16, 7).toString('base64')}` })[0]).toMatch(/exactly 32 bytes/);
    expect(problems({ MASTER_KEYS: `k1:${KEY_A},*k1:${KEY_B}` })[0]).toMatch(/duplicate key id "k1"/);
    expect(problems({ MASTER_KEYS: `k1:${Buffer.alloc(32, 0x61).toString('base64')}` })[0]).toMatch(/not random/);
    const sequential = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');
    expect(problems({ MASTER_KEYS: `k1:${sequential}` })[0]).toMatch(/not random/);
    expect(problems({ MASTER_KEYS: `k1:${KEY_A},k2:${KEY_B}` })[0]).toMatch(/mark the active key/);
    expect(problems({ MASTER_KEYS: `*k1:${KEY_A},*k2:${KEY_B}` })[0]).toMatch(/mark exactly one/);
    const config = loadConfig({ MASTER_KEYS: `*k1:${KEY_A}, k2:${KEY_B}` });
    expect(config.MASTER_KEYS?.activeId).toBe('k1');
    expect(config.MASTER_KEYS?.keys.map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(config.MASTER_KEYS?.keys[1]?.key.length).toBe(32);
    expect(loadConfig({ MASTER_KEYS: `solo:${KEY_B}` }).MASTER_KEYS?.activeId).toBe('solo');
  });

  it('reads master keys from MASTER_KEYS_FILE and refuses a loose file mode in production', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-keys-'));
    const file = path.join(dir, 'keys');
    fs.writeFileSync(file, `# rotated 2026-11\nold:${KEY_A}\n*new:${KEY_B}\n`, { mode: 0o600 });
    expect(loadConfig({ MASTER_KEYS_FILE: file }).MASTER_KEYS?.activeId).toBe('new');
    expect(problems({ ...PRODUCTION, MASTER_KEYS: undefined, MASTER_KEYS_FILE: file })).toEqual([]);
    fs.chmodSync(file, 0o644);
    expect(problems({ ...PRODUCTION, MASTER_KEYS: undefined, MASTER_KEYS_FILE: file })[0]).toMatch(/chmod 600/);
    expect(problems({ MASTER_KEYS_FILE: path.join(dir, 'missing') })[0]).toMatch(/cannot read/);
    expect(problems({ MASTER_KEYS_FILE: file, MASTER_KEYS: `k1:${KEY_A}` })[0]).toMatch(/not both/);
  });

  it('reads every secret from NAME_FILE as well (container secrets), with the same refusals [ASVS 13.3.1]', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-secrets-'));
    const write = (name: string, value: string, mode = 0o600) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, value, { mode });
      fs.chmodSync(file, mode);
      return file;
    };
    const env: Env = { ...PRODUCTION, DATABASE_URL: undefined, REDIS_URL: undefined, SMTP_URL: undefined };
    env.DATABASE_URL_FILE = write('database_url', `${PRODUCTION.DATABASE_URL}\n`);
    env.REDIS_URL_FILE = write('redis_url', PRODUCTION.REDIS_URL!);
    env.SMTP_URL_FILE = write('smtp_url', `${PRODUCTION.SMTP_URL}\r\n`);
    const config = loadConfig(env);
    expect([config.DATABASE_URL, config.REDIS_URL, config.SMTP_URL]).toEqual([PRODUCTION.DATABASE_URL, PRODUCTION.REDIS_URL, PRODUCTION.SMTP_URL]);
    // The production password rules judge the file's content too.
    // secretlint-disable-next-line -- fake credentials of a test fixture
    expect(problems({ ...env, DATABASE_URL_FILE: write('weak', 'postgres://bastion:changeme@db.internal/bastion') })).toEqual([expect.stringMatching(/^DATABASE_URL: the password is a default/)]);
    expect(problems({ ...env, METRICS_TOKEN_FILE: write('token', 'a'.repeat(40), 0o644) })).toContain('METRICS_TOKEN_FILE: the file is readable by group or others; chmod 600 it');
    expect(problems({ ...env, REDIS_URL: PRODUCTION.REDIS_URL })).toEqual(['REDIS_URL_FILE: set either REDIS_URL or REDIS_URL_FILE, not both']);
    expect(problems({ ...env, SMTP_URL_FILE: path.join(dir, 'missing') })).toContain('SMTP_URL_FILE: cannot read the file');
    // A problem names the variable, never the secret the file holds.
    // secretlint-disable-next-line -- fake credentials of a test fixture
    const bad = problems({ ...env, DATABASE_URL_FILE: write('bad', 'mysql://root:Zq9wX2kLp4@db/x') });
    expect(bad.join(' ')).not.toContain('Zq9wX2kLp4');
  });

  it('accepts a secure production configuration', () => {
    expect(problems(PRODUCTION)).toEqual([]);
  });

  it.each([
    ['missing master keys', { MASTER_KEYS: undefined }, /MASTER_KEYS: required/],
    ['weak master key', { MASTER_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}` }, /MASTER_KEYS: key "k1" is not random/],
    ['http PUBLIC_URL', { PUBLIC_URL: 'http://bastion.example.org' }, /PUBLIC_URL: must be https/],
    ['missing PUBLIC_URL', { PUBLIC_URL: undefined }, /PUBLIC_URL: required/],
    ['embedded database', { DATABASE_URL: undefined }, /DATABASE_URL: required in production/],
    ['in-memory store', { REDIS_URL: undefined }, /REDIS_URL: required in production/],
    ['outbox mail', { SMTP_URL: undefined }, /SMTP_URL: required in production/],
    ['wildcard CORS', { CORS_ORIGINS: '*' }, /CORS_ORIGINS: wildcard/],
    ['http CORS origin', { CORS_ORIGINS: 'http://app.example.org' }, /must be https in production/],
    // secretlint-disable-next-line -- a deliberately weak fake password
    ['default database password', { DATABASE_URL: 'postgres://bastion:changeme@db/bastion' }, /DATABASE_URL: the password is a default/],
    ['short redis password', { REDIS_URL: 'redis://:abc@cache:6379' }, /REDIS_URL: the password is a default or too weak/],
    ['low-entropy redis password', { REDIS_URL: 'redis://:aaaaaaaaaaaaaaaaaaaaaaaa1@cache:6379' }, /REDIS_URL: the password is a default or too weak/],
  ])('refuses %s in production', (_label, change, expected) => {
    const found = problems({ ...PRODUCTION, ...change });
    expect(found.join('\n')).toMatch(expected);
    expect(found.join('\n')).not.toMatch(/changeme|abc@/);
  });
});

describe('entropyBits', () => {
  it('scores random secrets high and repetitive or short ones low', () => {
    expect(entropyBits('Vq8r2LkP0zXw9mNt')).toBeGreaterThan(90);
    expect(entropyBits('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).toBeLessThan(10);
    expect(entropyBits('abc')).toBeLessThan(20);
    expect(entropyBits('')).toBe(0);
  });
});

describe('generated configuration docs', () => {
  it('keeps .env.example in step with the schema', () => {
    const file = fs.readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    expect(file, 'run `npm run config:docs` to regenerate .env.example').toBe(renderEnvExample());
  });

  it('keeps the README variable table in step with the schema', () => {
    const readme = fs.readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme, 'run `npm run config:docs` to regenerate the README table').toContain(renderVariableTable());
  });
});

describe('outbound allowances', () => {
  it('reports every malformed allowance, naming the variable and the entry', () => {
    const found = problems({ OUTBOUND_ALLOW_PRIVATE_TOOLS: 'localhost', OUTBOUND_ALLOW_PRIVATE_SSO: 'idp.internal:99999', OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE: 'wiki.internal:443' });
    expect(found).toEqual([expect.stringMatching(/^OUTBOUND_ALLOW_PRIVATE_TOOLS: "localhost" has no port/), expect.stringMatching(/^OUTBOUND_ALLOW_PRIVATE_SSO: "idp\.internal:99999" has an invalid port/)]);
  });

  it('counts the deprecated OUTBOUND_ALLOW_PRIVATE for providers only, on every port', () => {
    const config = loadConfig({ OUTBOUND_ALLOW_PRIVATE: 'localhost,10.0.5.0/24', OUTBOUND_ALLOW_PRIVATE_PROVIDERS: 'llm.internal:8080' });
    expect(config.OUTBOUND_ALLOW_PRIVATE_PROVIDERS).toEqual([
      { kind: 'host', host: 'llm.internal', port: 8080 },
      { kind: 'host', host: 'localhost', port: '*' },
      { kind: 'range', range: '10.0.5.0/24', port: '*' },
    ]);
    for (const name of ['OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE', 'OUTBOUND_ALLOW_PRIVATE_TOOLS', 'OUTBOUND_ALLOW_PRIVATE_WEBHOOKS', 'OUTBOUND_ALLOW_PRIVATE_SSO'] as const) {
      expect(config[name], name).toEqual([]);
    }
  });
});
