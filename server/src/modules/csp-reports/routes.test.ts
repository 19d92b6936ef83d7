import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/harness.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const legacy = {
  'csp-report': {
    'document-uri': 'https://bastion.example.org/agents',
    'blocked-uri': 'https://evil.example/x.js',
    'violated-directive': 'script-src-elem',
    'source-file': 'https://bastion.example.org/agents',
    'line-number': 12,
    disposition: 'enforce',
  },
};

function post(payload: string, type: string, ip = '10.88.0.1') {
  return t.app.inject({ method: 'POST', url: '/api/v1/csp-reports', payload, headers: { 'content-type': type }, remoteAddress: ip });
}

describe('CSP reports', () => {
  it('stores legacy report-uri and Reporting API bodies', async () => {
    expect((await post(JSON.stringify(legacy), 'application/csp-report')).statusCode).toBe(204);
    const batch = [{ type: 'csp-violation', body: { documentURL: 'https://bastion.example.org/', blockedURL: 'inline', effectiveDirective: 'script-src-elem', sourceFile: '', lineNumber: 1, disposition: 'enforce' } }];
    expect((await post(JSON.stringify(batch), 'application/reports+json')).statusCode).toBe(204);
    const rows = await t.database.db.selectFrom('csp_reports').select(['blocked_uri', 'directive', 'line']).orderBy('blocked_uri').execute();
    expect(rows).toEqual([
      { blocked_uri: 'https://evil.example/x.js', directive: 'script-src-elem', line: 12 },
      { blocked_uri: 'inline', directive: 'script-src-elem', line: 1 },
    ]);
  });

  it('truncates long fields and refuses oversized, malformed or mistyped bodies', async () => {
    const long = { 'csp-report': { ...legacy['csp-report'], 'blocked-uri': `https://x/${'a'.repeat(5_000)}` } };
    expect((await post(JSON.stringify(long), 'application/csp-report', '10.88.0.2')).statusCode).toBe(204);
    const stored = await t.database.db.selectFrom('csp_reports').select('blocked_uri').where('ip', '=', '10.88.0.2').executeTakeFirstOrThrow();
    expect(stored.blocked_uri.length).toBe(500);
    expect((await post(JSON.stringify({ 'csp-report': { x: 'y'.repeat(20_000) } }), 'application/csp-report', '10.88.0.3')).statusCode).toBe(413);
    expect((await post('{"csp-report":', 'application/csp-report', '10.88.0.3')).json().error.code).toBe('invalid_json');
    expect((await post(JSON.stringify(legacy), 'text/plain', '10.88.0.3')).statusCode).toBe(415);
    expect((await post(JSON.stringify({ nope: true }), 'application/csp-report', '10.88.0.3')).json().error.code).toBe('validation_failed');
  });

  it('is rate limited per client', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) statuses.push((await post(JSON.stringify(legacy), 'application/csp-report', '10.88.0.9')).statusCode);
    expect(statuses.filter((s) => s === 204)).toHaveLength(30);
    expect(statuses.at(-1)).toBe(429);
  });
});
