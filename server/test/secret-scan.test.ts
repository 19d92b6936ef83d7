/**
 * The secret scan CI runs (`npm run secrets`, secretlint over the whole tree) catches
 * planted secrets: a third-party token, a Bastion token and a Bastion master key. The
 * gitleaks rules (`.gitleaks.toml`, for pipelines that have gitleaks; it is not installable
 * here) must match the same planted Bastion secrets, so the two rule sets cannot drift.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { generateMasterKey } from '../src/platform/crypto/master-keys.js';
import { generateToken } from '../src/platform/crypto/tokens.js';
import { generateApiKey } from '../src/modules/api-keys/key-format.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PLANT_DIR = path.join(ROOT, `.secret-scan-test-${process.pid}`);

/** `npm run secrets` over the whole tree, or the same secretlint, rules and ignore file over one folder. */
function scan(folder?: string) {
  const result = folder
    ? spawnSync(path.join(ROOT, 'node_modules/.bin/secretlint'), [`${folder}/**/*`], { cwd: ROOT, encoding: 'utf8', timeout: 80_000 })
    : spawnSync('npm', ['run', '--silent', 'secrets'], { cwd: ROOT, encoding: 'utf8', timeout: 80_000 });
  return { status: result.status, out: result.stdout + result.stderr };
}

function plant(name: string, text: string): string {
  fs.mkdirSync(PLANT_DIR, { recursive: true });
  fs.writeFileSync(path.join(PLANT_DIR, name), text);
  return name;
}

const PLANTED: [string, string, () => string][] = [
  ['a GitHub token', 'notes.md', () => `deploy with ghp_${'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'} please`],
  ['a Bastion token', 'client.ts', () => `export const token = '${generateToken('sess').token}';`],
  ['a Bastion API key', 'deploy.sh', () => `curl -H "Authorization: Bearer ${generateApiKey().key}" https://bastion.example.org/api/v1/me`],
  [
    'a Bastion master key in an env file',
    'prod.env',
    () => {
      const key = generateMasterKey();
      return `NODE_ENV=production\nMASTER_KEYS=${key.id}:${key.key.toString('base64')}\n`;
    },
  ],
  [
    'a Bastion master key file',
    'master-keys',
    () => {
      const key = generateMasterKey();
      return `# keys\n*${key.id}:${key.key.toString('base64')}\n`;
    },
  ],
];

/** The rules' regexes of .gitleaks.toml, as JavaScript (RE2's leading `(?m)` becomes the `m` flag). */
function gitleaksRules(): { id: string; regex: RegExp }[] {
  const toml = fs.readFileSync(path.join(ROOT, '.gitleaks.toml'), 'utf8');
  return [...toml.matchAll(/\[\[rules\]\]\s*\nid = "([^"]+)"[\s\S]*?\nregex = '''(.*?)'''/g)].map(([, id, source]) => {
    const multiline = source!.startsWith('(?m)');
    return { id: id!, regex: new RegExp(multiline ? source!.slice(4) : source!, multiline ? 'm' : '') };
  });
}

afterEach(() => {
  fs.rmSync(PLANT_DIR, { recursive: true, force: true });
});

// The whole tree is scanned once (~20 s on a loaded 2-core CI machine); each planted secret in its own folder.
describe('secret scanning', { timeout: 90_000 }, () => {
  it('passes on the repository as committed [ASVS 13.3.1]', () => {
    const result = scan();
    expect(result.status, result.out).toBe(0);
  });

  it.each(PLANTED)('fails on %s [ASVS 13.3.1]', (_label, file, content) => {
    plant(file, content());
    const result = scan(path.basename(PLANT_DIR));
    expect(result.status).not.toBe(0);
    expect(result.out).toContain(path.join(path.basename(PLANT_DIR), file));
  });

  it.each(PLANTED.filter(([label]) => label.includes('Bastion')))('has a gitleaks rule that matches %s too', (_label, _file, content) => {
    const rules = gitleaksRules();
    expect(rules.map((r) => r.id)).toEqual(expect.arrayContaining(['bastion-token', 'bastion-master-key']));
    const text = content();
    expect(
      rules.filter((rule) => rule.regex.test(text)).map((r) => r.id),
      text,
    ).not.toEqual([]);
  });

  it('has gitleaks rules that leave ordinary text alone', () => {
    const ordinary = ['bst_key_short', 'MASTER_KEYS= # set in production', 'time: 12:30:00', `id:${'A'.repeat(20)}`];
    for (const text of ordinary)
      expect(
        gitleaksRules()
          .filter((rule) => rule.regex.test(text))
          .map((r) => r.id),
        text,
      ).toEqual([]);
  });
});
