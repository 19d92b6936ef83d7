/**
 * PUBLIC_URL when unset: the address the server listens on, as a browser on the machine
 * reaches it, the same in `bastion serve` and in the CLI that mails links to it.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withChosenPort } from '../cli.js';
import { TEST_RUN } from '../../test/harness.js';
import { loadConfig } from './index.js';

describe('PUBLIC_URL default', () => {
  it.each([
    [{}, 'http://127.0.0.1:3000'],
    [{ HOST: '0.0.0.0', PORT: '8080' }, 'http://localhost:8080'],
    [{ HOST: '::', PORT: '8080' }, 'http://localhost:8080'],
    [{ HOST: '::1' }, 'http://[::1]:3000'],
    [{ HOST: '0.0.0.0', PUBLIC_URL: 'https://bastion.example.org/' }, 'https://bastion.example.org'],
  ])('%j → %s', (env, url) => {
    expect(loadConfig(env).PUBLIC_URL).toBe(url);
  });

  it('with PORT=0, serve picks its port first and links name it; a set PUBLIC_URL is kept', async () => {
    const chosen = await withChosenPort(loadConfig({ PORT: '0' }));
    expect(chosen.PORT).toBeGreaterThan(0);
    expect(chosen.PUBLIC_URL).toBe(`http://127.0.0.1:${chosen.PORT}`);
    const proxied = loadConfig({ PORT: '0', PUBLIC_URL: 'https://bastion.example.org' });
    expect(await withChosenPort(proxied)).toBe(proxied);
  });

  it('bastion users invite refuses to mail a link to port 0', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/entry.ts', 'users', 'invite', 'a@example.org'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: TEST_RUN.path, PORT: '0', DATA_DIR: '/nonexistent/never-opened' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/PUBLIC_URL is not set and PORT=0/);
  }, 90_000);
});
