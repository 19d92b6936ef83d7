import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PASSWORD, useAccountsApp } from '../../../test/accounts.js';
import { apiUser } from '../../../test/api-client.js';
import { BrowserClient } from '../../../test/browser-client.js';
import { person } from '../../../test/privacy-fixtures.js';

const fixture = useAccountsApp({ REQUIRE_MFA: 'none', PRIVACY_JOB_INTERVAL_SECONDS: '0', REGISTRATION: 'open' });
const PRIVACY_TEXT = '# Privacy policy\n\nWe keep your data only as long as the settings say.';
const TERMS_TEXT = '# Terms of use\n\nBe kind to the agents and to each other.';

async function publish(kind: 'privacy' | 'terms', text: string) {
  const admin = await apiUser(fixture.t, { role: 'admin' });
  const response = await admin.post('/admin/policies', { kind, text });
  return { admin, response };
}

describe('policies and consent (GDPR Art. 7)', () => {
  it('publishes versions identified by their SHA-256; only admins may publish', async () => {
    const { response } = await publish('privacy', PRIVACY_TEXT);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ kind: 'privacy', version: 1, sha256: createHash('sha256').update(PRIVACY_TEXT).digest('hex') });
    const same = await publish('privacy', PRIVACY_TEXT); // the same text again: still version 1
    expect(same.response.json().version).toBe(1);
    expect((await publish('privacy', `${PRIVACY_TEXT}\nChanged.`)).response.json().version).toBe(2);
    const member = await apiUser(fixture.t);
    const refused = await member.post('/admin/policies', { kind: 'terms', text: TERMS_TEXT });
    expect(refused.statusCode).toBe(403);
    for (const body of [{}, { kind: 'cookies', text: TERMS_TEXT }, { kind: 'terms', text: 'short' }, { kind: 'terms', text: TERMS_TEXT, version: 9 }, { kind: 'terms', text: 42 }]) {
      expect((await same.admin.post('/admin/policies', body)).statusCode).toBe(400);
    }
    const current = await new BrowserClient(fixture.t.app).get('/privacy/policies');
    expect(current.json().policies).toEqual([expect.objectContaining({ kind: 'privacy', version: 2 })]);
  });

  it('refuses other actions with 403 consent_required until the version in force is accepted', async () => {
    const p = await person(fixture.t, 'gina');
    expect((await p.browser.get('/workspaces')).statusCode).toBe(200); // nothing published yet
    const { response } = await publish('terms', TERMS_TEXT);
    const version = response.json().version as number;
    for (const client of [p.browser, p.api]) {
      const refused = await client.get('/workspaces');
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('consent_required');
    }
    // Still allowed: who am I, my consents, export, deletion, sign-out.
    expect((await p.browser.get('/me')).statusCode).toBe(200);
    const consents = await p.browser.get('/me/consents');
    expect(consents.json().pendingPolicies).toEqual([expect.objectContaining({ kind: 'terms', version })]);
    expect((await p.browser.post('/me/export')).statusCode).toBe(202);
    // Accepting an old or unknown version does not count.
    expect((await p.browser.post('/me/policies/accept', { accept: [{ kind: 'terms', version: version + 1 }] })).statusCode).toBe(409);
    for (const body of [{}, { accept: [] }, { accept: [{ kind: 'terms' }] }, { accept: [{ kind: 'terms', version: '1' }] }, { accept: [{ kind: 'terms', version }], also: true }]) {
      expect((await p.browser.post('/me/policies/accept', body)).statusCode).toBe(400);
    }
    const accepted = await p.browser.post('/me/policies/accept', { accept: [{ kind: 'terms', version }] });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json().pendingPolicies).toEqual([]);
    expect((await p.browser.get('/workspaces')).statusCode).toBe(200);
    expect((await p.api.get('/workspaces')).statusCode).toBe(200);
    const row = await fixture.t.database.db.selectFrom('policy_acceptances').selectAll().where('user_id', '=', p.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ kind: 'terms', version, sha256: createHash('sha256').update(TERMS_TEXT).digest('hex') });
    expect((await p.browser.post('/auth/logout')).statusCode).toBe(200);
  });

  it('registration must accept the versions in force, and records them', async () => {
    const { response } = await publish('privacy', PRIVACY_TEXT);
    const version = response.json().version as number;
    const browser = new BrowserClient(fixture.t.app);
    const email = `reg-${Date.now()}@example.org`;
    const body = { email, password: PASSWORD, name: 'Rita Register' };
    const without = await browser.post('/auth/register', body);
    expect(without.statusCode).toBe(403);
    expect(without.json().error.code).toBe('consent_required');
    expect(await fixture.t.database.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()).toBeUndefined();
    expect((await browser.post('/auth/register', { ...body, acceptedPolicies: [{ kind: 'privacy', version: 'one' }] })).statusCode).toBe(400);
    const ok = await browser.post('/auth/register', { ...body, acceptedPolicies: [{ kind: 'privacy', version }] });
    expect(ok.statusCode, ok.body).toBe(202);
    const user = await fixture.t.database.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
    const acceptances = await fixture.t.database.db.selectFrom('policy_acceptances').select(['kind', 'version']).where('user_id', '=', user.id).execute();
    expect(acceptances).toEqual([{ kind: 'privacy', version }]);
  });

  it('gives and withdraws optional consents with the same ease, keeping the history', async () => {
    const p = await person(fixture.t, 'hugo');
    const initial = await p.browser.get('/me/consents');
    expect(initial.json().consents).toEqual([
      { purpose: 'product_analytics', granted: false, policyVersion: null, recordedAt: null },
      { purpose: 'improve_prompts', granted: false, policyVersion: null, recordedAt: null },
    ]);
    const put = (body: unknown) => p.browser.request('PUT' as 'POST', '/me/consents', body);
    const given = await put({ improve_prompts: true });
    expect(given.statusCode, given.body).toBe(200);
    expect(given.json().consents[1]).toMatchObject({ purpose: 'improve_prompts', granted: true });
    fixture.clock.advance(1_000);
    const withdrawn = await put({ improve_prompts: false });
    expect(withdrawn.json().consents[1]).toMatchObject({ purpose: 'improve_prompts', granted: false });
    const history = await fixture.t.database.db.selectFrom('consent_records').select(['purpose', 'granted']).where('user_id', '=', p.id).orderBy('recorded_at').execute();
    expect(history).toEqual([
      { purpose: 'improve_prompts', granted: true },
      { purpose: 'improve_prompts', granted: false },
    ]);
    for (const body of [{}, { marketing: true }, { improve_prompts: 'yes' }, [], null]) expect((await put(body)).statusCode).toBe(400);
    expect((await p.api.request('PUT', '/me/consents', { improve_prompts: true })).statusCode).toBe(403); // a person's act: browser session only
  });
});
