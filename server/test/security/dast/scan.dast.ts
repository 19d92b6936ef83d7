/**
 * `npm run test:dast`: scanners from Debian against a staging stack (stack.ts) in production
 * mode behind TLS. Fails on any finding above info that is not in security/allow-list.json
 * (each entry with its reason), and writes the results table to security/results-<profile>.md.
 *
 * DAST_PROFILE=ci (the default, in .ci/run): testssl.sh --fast, sqlmap on the three
 * riskiest endpoints without time-based techniques, wapiti's modules for a bounded time.
 * DAST_PROFILE=full (`npm run test:security`): everything, longer.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_RUN } from '../../harness.js';
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

let stack: Stack;
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

  it('sqlmap: no injectable parameter', () => {
    const api = `${stack.url}/api/v1`;
    const targets: SqlmapTarget[] = [
      { name: 'knowledge search', url: `${api}/knowledge-bases/${stack.ids.base}/search`, method: 'POST', data: '{"query":"parking","topK":5}', params: ['JSON query'] },
      { name: 'conversation list', url: `${api}/conversations?limit=20&before=2030-01-01T00:00:00Z`, method: 'GET', params: ['limit', 'before'] },
      { name: 'sign-in', url: `${api}/auth/login`, method: 'POST', data: '{"email":"nobody@example.org","password":"not the password at all"}', params: ['JSON email', 'JSON password'], ignoreCodes: [401] },
    ];
    if (FULL) {
      targets.push(
        { name: 'document', url: `${api}/knowledge-bases/${stack.ids.base}/documents?status=ready`, method: 'GET', params: ['status'] },
        { name: 'export', url: `${api}/conversations/${stack.ids.conversation}/export?format=json`, method: 'GET', params: ['format'] },
        { name: 'agent change', url: `${api}/agents/${stack.ids.agent}`, method: 'PATCH', data: '{"name":"Front desk"}', params: ['JSON name'] },
      );
    }
    return scan(sqlmap(targets, auth(), { level: 3, risk: 2, techniques: FULL ? 'BEUSTQ' : 'BEUS', timeoutMs: FULL ? 1_800_000 : 300_000 }));
  }, 3_600_000);

  it('wapiti: injection, XSS, CRLF, SSRF, redirects, XXE, files, exec, methods, cookies, CSP, headers', () => {
    const api = `${stack.url}/api/v1`;
    const startUrls = [
      `${api}/conversations?limit=20`,
      `${api}/conversations/${stack.ids.conversation}/messages?includeSuperseded=false`,
      `${api}/conversations/${stack.ids.conversation}/export?format=json`,
      `${api}/knowledge-bases/${stack.ids.base}/documents`,
      `${api}/agents/${stack.ids.agent}`,
      `${api}/me`,
      `${stack.url}/chat`,
    ];
    const modules = 'sql,blindsql,xss,permanentxss,crlf,ssrf,redirect,xxe,file,exec,methods,cookieflags,csp,http_headers';
    return scan(wapiti(stack.url, startUrls, auth(), { modules, maxScanSeconds: FULL ? 1_200 : 150, maxAttackSeconds: FULL ? 300 : 60 }));
  }, 1_800_000);

  it('keeps a reason with every allow-list entry', () => {
    for (const entry of ALLOW_LIST.entries) expect(entry.reason.length, `${entry.tool} ${entry.id}`).toBeGreaterThan(30);
  });
});
