/**
 * `npm run test:dast`: scanners from Debian against a staging stack (stack.ts) in production
 * mode behind TLS. Fails on any finding above info that is not in security/allow-list.json
 * (each entry with its reason), and writes the results table to security/results-<profile>.md.
 *
 * Targets come from the OpenAPI document the stack serves (openapi-targets.ts).
 * DAST_PROFILE=ci (the default, in .ci/run): testssl.sh's configuration checks, sqlmap on the five riskiest
 * operations without time-based techniques, wapiti's modules for a bounded time.
 * DAST_PROFILE=full (`npm run test:security`): sqlmap on every operation that takes a
 * parameter, with every technique; the full testssl.sh; wapiti for longer.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_RUN } from '../../harness.js';
import { crawlStartUrls, sqlmapTargets, type OpenApiDocument } from './openapi-targets.js';
import { nmap, sqlmap, testssl, wapiti, type Finding, type ScanResult, type SqlmapTarget } from './scanners.js';
import { startStack, type Stack } from './stack.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const ALLOW_LIST = JSON.parse(fs.readFileSync(`${ROOT}security/allow-list.json`, 'utf8')) as { entries: { tool: string; id: string; reason: string }[] };
const FULL = TEST_RUN.dastProfile === 'full';
const ADMIN_DATABASE_URL = (() => {
  if (!TEST_RUN.databaseUrl) return 'postgres://postgres@127.0.0.1:5432/postgres';
  const url = new URL(TEST_RUN.databaseUrl);
  url.pathname = '/postgres';
  return url.href;
})();

/**
 * The five operations whose parameters reach the most hand-built SQL: full-text search,
 * conversation search over the blind index, keyset pagination, sign-in (which also stores
 * the User-Agent) and the administrators' account search.
 */
const RISKIEST = ['POST /api/v1/knowledge-bases/{id}/search', 'GET /api/v1/conversations/search', 'GET /api/v1/conversations', 'POST /api/v1/auth/login', 'GET /api/v1/admin/users'];
/**
 * Changes that alter what every later request sees (a new policy to accept, a token budget,
 * a wrong current password counted against the owner, a member's role): attacked last.
 */
const LAST = ['PATCH /api/v1/workspaces/{id}/members/{userId}', 'POST /api/v1/auth/password/change', 'PATCH /api/v1/workspaces/{id}', 'POST /api/v1/admin/policies'];

function inRunOrder(targets: SqlmapTarget[]): SqlmapTarget[] {
  const rank = (t: SqlmapTarget) => LAST.indexOf(t.name) + 1 + (t.method === 'GET' ? -1 : 0);
  return targets
    .map((t, i) => ({ t, i }))
    .sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i)
    .map(({ t }) => t);
}

let stack: Stack;
let document: OpenApiDocument | undefined;
const openApi = async () => (document ??= (await (await fetch(`${stack.direct}/api/v1/openapi.json`)).json()) as OpenApiDocument);
const results: ScanResult[] = [];

function unexplained(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity !== 'info' && !ALLOW_LIST.entries.some((entry) => entry.tool === f.tool && entry.id === f.id));
}

async function scan(result: Promise<ScanResult>): Promise<void> {
  const done = await result;
  results.push(done);
  expect(unexplained(done.findings).map((f) => `${f.severity} ${f.id}: ${f.detail.slice(0, 200)}`)).toEqual([]);
}

beforeAll(async () => {
  for (const tool of ['nmap', 'testssl', 'sqlmap', 'wapiti', 'nginx', 'openssl']) {
    expect(fs.existsSync(`/usr/bin/${tool}`) || fs.existsSync(`/usr/sbin/${tool}`), `${tool} is missing: apt-get install nmap testssl.sh sqlmap wapiti nginx`).toBe(true);
  }
  stack = await startStack(ADMIN_DATABASE_URL, TEST_RUN.redisUrl ?? 'redis://127.0.0.1:6379');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (results.length === 0) return;
  const lines = [
    `# Security scan results (${TEST_RUN.dastProfile} profile)`,
    '',
    `${new Date().toISOString()} — \`DAST_PROFILE=${TEST_RUN.dastProfile} npm run test:dast\` against the staging stack (server/test/security/dast/stack.ts: production mode, PostgreSQL + Redis, nginx with TLS on loopback).`,
    '',
    '| tool | scope | requests | critical | high | medium | low | allow-listed | unexplained | seconds |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => {
      const count = (s: string) => r.findings.filter((f) => f.severity === s).length;
      const open = unexplained(r.findings).length;
      const listed = r.findings.filter((f) => f.severity !== 'info').length - open;
      return `| ${r.tool} | ${r.scope} | ${r.requests ?? '–'} | ${count('critical')} | ${count('high')} | ${count('medium')} | ${count('low')} | ${listed} | ${open} | ${r.seconds} |`;
    }),
    '',
    '## Findings',
    '',
    ...results.flatMap((r) =>
      r.findings.filter((f) => f.severity !== 'info').map((f) => `- ${f.tool} **${f.severity}** \`${f.id}\`: ${f.detail.replace(/\s+/g, ' ').slice(0, 200)}${unexplained([f]).length === 0 ? ' — allow-listed' : ' — **unexplained**'}`),
    ),
    '',
  ];
  fs.writeFileSync(`${ROOT}security/results-${TEST_RUN.dastProfile}.md`, lines.join('\n'));
}, 60_000);

describe(`scanners against the staging stack (${TEST_RUN.dastProfile})`, () => {
  const auth = () => ({ Authorization: `Bearer ${stack.apiKey}`, 'X-Workspace-Id': stack.ids.workspace });

  it('nmap: security headers, methods, CORS and cookie flags through the proxy', () => scan(nmap(stack.port)), 180_000);

  it('testssl.sh: protocols, ciphers, HSTS, certificate', () => scan(testssl(stack.port, { fast: !FULL })), 660_000);

  it('sqlmap: no injectable parameter', async () => {
    const all = sqlmapTargets(await openApi(), stack);
    const targets = FULL ? inRunOrder(all) : RISKIEST.map((name) => all.find((t) => t.name === name) ?? expect.unreachable(`${name} is not in the OpenAPI document`));
    if (FULL) expect(targets.length).toBeGreaterThan(90);
    return scan(sqlmap(targets, { level: 3, risk: 2, techniques: FULL ? 'BEUSTQ' : 'BEUS', timeoutMs: 600_000 }));
  }, 7_200_000);

  it('wapiti: injection, XSS, CRLF, SSRF, redirects, XXE, files, exec, methods, cookies, CSP, headers', async () => {
    const startUrls = [...crawlStartUrls(await openApi(), stack), `${stack.url}/chat`];
    const modules = 'sql,blindsql,xss,permanentxss,crlf,ssrf,redirect,xxe,file,exec,methods,cookieflags,csp,http_headers';
    return scan(wapiti(stack.url, startUrls, auth(), { modules, maxScanSeconds: FULL ? 1_200 : 150, maxAttackSeconds: FULL ? 300 : 60 }));
  }, 1_800_000);

  it('keeps a reason with every allow-list entry', () => {
    for (const entry of ALLOW_LIST.entries) expect(entry.reason.length, `${entry.tool} ${entry.id}`).toBeGreaterThan(30);
  });
});
