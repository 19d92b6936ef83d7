/**
 * The main journey through the real app in Chromium, one step after the other on one
 * server and one browser: sign up → verify email → 2FA → sign out → sign in with a code →
 * provider, knowledge base, agent → upload until ready → a streamed answer with a
 * citation → session expiry and return → revoke a second session → data export.
 * Throughout: no CSP violation, no uncaught error, no dialog, CSRF token on every
 * state-changing call of a signed-in page.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { BrowserApi, firstVisit, linkIn, PASSWORD, PRE_LOGIN, signIn, totpCode, UNSAFE, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';
import { TEST_RUN } from '../../server/test/harness.js';

const EMAIL = `e2e-${Date.now().toString(36)}@example.org`;
const NAME = 'Robin Fairweather';
const POLICY = [
  '# Travel policy',
  '',
  'Rail tickets bought for business trips can be reimbursed. Employees claim the refund for rail tickets within 30 days of the journey, with the receipt attached.',
  '',
  'Hotel stays are booked through the travel desk.',
].join('\n');

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

let stack: Stack;
let chromium: OpenBrowser;
let context: BrowserContext;
let watch: Watch;
let page: Page;
let browserApi: BrowserApi;
let totpSecret = '';
let recoveryCodes: string[] = [];
/** Screen bugs the flow worked around (reported; printed at the end). */
const others: { context: BrowserContext; watch: Watch }[] = [];
const state: { conversationId?: string; knowledgeBaseId?: string; agentId?: string } = {};

// Each step needs the ones before it: after a failure the rest are skipped, not failed again.
stepsInOrder(
  'flow',
  () => page,
  () => `\nconsole errors: ${JSON.stringify(watch.consoleErrors)}\npage errors: ${JSON.stringify(watch.pageErrors)}\nCSP: ${JSON.stringify(watch.csp)}`,
);

beforeAll(async () => {
  stack = await startStack('flow');
  chromium = await launchChromium();
  ({ context, watch } = await watchedContext(chromium.browser, stack.baseUrl));
  page = await context.newPage();
  browserApi = new BrowserApi(context, stack.baseUrl);
});

afterAll(async () => {
  for (const other of others) await other.context.close();
  await context?.close();
  await chromium?.close();
  await stack?.close();
});

describe(`the main journey (${TEST_RUN.databaseUrl ? 'PostgreSQL' : 'embedded'} backend)`, () => {
  it('signs up', async () => {
    await firstVisit(page, '/sign-in');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    await page.getByLabel('Name').fill(NAME);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    const create = page.getByRole('button', { name: 'Create account', exact: true });
    await expect.poll(() => create.isEnabled(), { timeout: 10_000 }).toBe(true); // the strength check answered
    await screenshot(page, 'sign-up');
    await create.click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  });

  it('verifies the email with the link from the mail', async () => {
    const mail = await stack.sink.next(EMAIL, /verify/i, 10_000);
    const link = linkIn(mail.text);
    expect(new URL(link).origin).toBe(stack.baseUrl);
    await page.goto(link);
    const confirmed = page.getByText('Your email address is confirmed');
    await confirmed.waitFor();
    expect(page.url(), 'the token is dropped from the address bar').not.toContain('token=');
  });

  it('signs in with the password (no 2FA yet) and enables 2FA from the QR screen', async () => {
    await page.goto('/sign-in?next=/account');
    await signIn(page, EMAIL, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/account');
    await page.getByRole('heading', { name: 'Account' }).waitFor();
    await page.getByRole('button', { name: 'Set up two-factor authentication', exact: true }).click();
    const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    await page.getByText("Can't scan it?").click();
    totpSecret = (await page.getByTestId('totp-secret').innerText()).replace(/\s/g, '');
    expect(totpSecret).toMatch(/^[A-Z2-7]{16,}$/);
    await screenshot(page, 'two-factor-setup');
    await page.getByLabel('Code from the app').fill(await totpCode(totpSecret, -1));
    await page.getByRole('button', { name: 'Turn on', exact: true }).click();
    const codes = page.getByTestId('recovery-codes');
    await codes.waitFor();
    recoveryCodes = (await codes.innerText())
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/.test(line));
    expect(recoveryCodes).toHaveLength(10);
    await page.getByRole('button', { name: 'I have stored it', exact: true }).click();
    await page.getByText('On.', { exact: true }).waitFor();
    await screenshot(page, 'account');
  });

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    const me = await context.request.get(`${stack.baseUrl}/api/v1/me`);
    expect(me.status(), 'the session ended at the server').toBe(401);
  });

  it('signs in again with the password and a TOTP code', async () => {
    await page.goto('/sign-in?next=/account');
    await screenshot(page, 'sign-in');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    // A wrong code first: refused on the screen, the step stays.
    await page.getByLabel('Authentication code').fill('000000');
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.getByRole('alert').waitFor();
    await screenshot(page, 'sign-in-code');
    await page.getByLabel('Authentication code').fill(await totpCode(totpSecret, 1));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/account');
    await expect.poll(() => page.getByTestId('signed-in-as').innerText()).toBe(EMAIL);
  });

  it('adds a provider connection to the fake LLM on the workspace screen; the key is never shown again', async () => {
    const key = 'sk-e2e-fake-provider-key-7f3a9c';
    await page.goto('/workspace');
    await page.getByText('No provider connections.').waitFor();
    await page.getByLabel('Connection name').fill('Fake LLM');
    await page.getByLabel('Kind').selectOption('openai');
    await page.getByLabel('Base URL').fill(`${stack.fake.url}/v1`);
    await page.getByLabel('API key').fill(key);
    await page.getByLabel('Default model').fill('fake-model-1');
    await page.getByRole('button', { name: 'Add connection', exact: true }).click();
    await page.getByRole('button', { name: 'Test Fake LLM', exact: true }).waitFor();
    expect(await page.locator('body').innerText()).not.toContain(key);
    expect(await page.getByLabel('API key').inputValue(), 'the form forgets the key').toBe('');
  });

  it('creates a knowledge base and an agent that uses it, on their screens', async () => {
    await page.goto('/knowledge');
    await page.getByLabel('Name').fill('Handbook');
    await page.getByLabel('Description').fill('Company policies');
    await page.getByRole('button', { name: 'Create knowledge base', exact: true }).click();
    await page.waitForURL(/\/knowledge\/[0-9a-f-]{36}$/);
    state.knowledgeBaseId = new URL(page.url()).pathname.split('/').pop()!;

    await page.goto('/agents/new');
    await page.getByLabel('Name').fill('Policy helper');
    const provider = page.getByLabel('Provider connection');
    await expect.poll(async () => (await provider.locator('option').allInnerTexts()).join('|')).toContain('Fake LLM');
    await provider.selectOption({ label: 'Fake LLM (openai)' });
    await page.getByLabel('Model', { exact: true }).fill('fake-model-1');
    await page.getByLabel('System prompt').fill('Answer from the handbook and cite it.');
    await page.getByRole('checkbox', { name: 'Handbook' }).check();
    await page.getByRole('button', { name: 'Create agent', exact: true }).click();
    await page.waitForURL(/\/agents\/[0-9a-f-]{36}$/);
    state.agentId = new URL(page.url()).pathname.split('/').pop()!;
    const agent = await browserApi.json<{ config: { model: string; knowledgeBaseIds: string[]; providerConnectionId: string | null } }>('GET', `/agents/${state.agentId}`);
    expect(agent.config).toMatchObject({ model: 'fake-model-1', knowledgeBaseIds: [state.knowledgeBaseId], systemPrompt: 'Answer from the handbook and cite it.' });
    expect(agent.config.providerConnectionId).not.toBeNull();
    await screenshot(page, 'agent');
  });

  it('uploads a document on the knowledge screen and waits until it shows ready', async () => {
    await page.goto(`/knowledge/${state.knowledgeBaseId}`);
    await page.getByRole('region', { name: 'Upload documents' }).waitFor();
    await page.locator('#document-file').setInputFiles({ name: 'travel-policy.md', mimeType: 'text/markdown', buffer: Buffer.from(POLICY) });
    const row = page.getByTestId('document-row').filter({ hasText: 'travel-policy.md' });
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000, interval: 200 }).toBe('ready');
    await screenshot(page, 'knowledge');
  });

  it('asks a question in the chat and sees the streamed answer, whose citation opens the source passage', async () => {
    stack.fake.enqueue({ kind: 'text', text: 'Claim the refund for rail tickets within **30 days** of the journey [1].', chunkDelayMs: 40 });
    // A new conversation from /chat, keyboard-first: pick the agent, type, Enter.
    await page.goto('/chat');
    await page.getByLabel('Agent').selectOption({ label: 'Policy helper' });
    const stream = page.waitForResponse((r) => /\/conversations\/[0-9a-f-]{36}\/messages$/.test(r.url()) && r.request().method() === 'POST');
    await page.getByLabel('Message').fill('How long do I have to claim a refund for rail tickets?');
    await page.getByLabel('Message').press('Enter');
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    state.conversationId = new URL(page.url()).pathname.split('/').pop()!;
    expect((await stream).headers()['content-type']).toContain('text/event-stream');
    const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
    // Streaming: the answer is on screen, busy, before it is complete.
    await answer.and(page.locator('[aria-busy="true"]')).waitFor({ timeout: 10_000 });
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 15_000 }).toBe('complete');
    const body = answer.getByTestId('message-body');
    expect(await body.innerText()).toContain('within 30 days');
    expect(await body.locator('strong').innerText(), 'Markdown is rendered').toBe('30 days');
    await screenshot(page, 'chat');
    await answer.getByRole('button', { name: /^\[1\] / }).click();
    const dialog = page.getByTestId('citation-dialog');
    await dialog.getByRole('heading', { name: 'Source 1' }).waitFor();
    expect(await dialog.locator('blockquote').innerText()).toContain('within 30 days of the journey');
    await screenshot(page, 'citation');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    // The model was given the passage to cite.
    expect(JSON.stringify(stack.fake.requests.at(-1)?.body)).toContain('within 30 days');
  });

  it('after the session ends, sends the user to sign-in and back to where they were', async () => {
    await page.goto('/account');
    await page.getByRole('heading', { name: 'Account' }).waitFor();
    // End the session at the server (as idle or absolute expiry does); the browser still holds the cookie.
    const ended = await browserApi.call('POST', '/auth/logout');
    expect(ended.status()).toBe(200);
    await page.getByRole('link', { name: 'Privacy' }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === '/privacy');
    await screenshot(page, 'sign-in-expired');
    await signIn(page, EMAIL, PASSWORD, { recovery: recoveryCodes[0]! });
    await page.waitForURL((url) => url.pathname === '/privacy');
    await page.getByRole('heading', { name: 'Privacy' }).waitFor();
    browserApi = new BrowserApi(context, stack.baseUrl); // new session, new CSRF token
  });

  it('revokes a second session from the sessions screen, and that session is refused', async () => {
    // A second device: another browser profile with another user agent.
    const other = await watchedContext(chromium.browser, stack.baseUrl, { userAgent: FIREFOX });
    others.push(other);
    const otherPage = await other.context.newPage();
    await firstVisit(otherPage, '/sign-in?next=/account');
    await signIn(otherPage, EMAIL, PASSWORD, { recovery: recoveryCodes[1]! });
    await otherPage.waitForURL((url) => url.pathname === '/account');
    expect((await other.context.request.get(`${stack.baseUrl}/api/v1/me`)).status()).toBe(200);

    await page.goto('/account');
    const rows = page.getByTestId('session-row');
    await expect.poll(() => rows.count()).toBe(2);
    await screenshot(page, 'sessions');
    const current = rows.filter({ hasText: '(this session)' });
    expect(await current.count()).toBe(1);
    await page.getByRole('button', { name: 'Revoke session Firefox on Linux', exact: true }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain('(this session)');

    expect((await other.context.request.get(`${stack.baseUrl}/api/v1/me`)).status(), 'the revoked session is refused').toBe(401);
    await otherPage.goto('/account');
    await otherPage.waitForURL((url) => url.pathname === '/sign-in');
    expect((await context.request.get(`${stack.baseUrl}/api/v1/me`)).status(), 'this session still works').toBe(200);
  });

  it('requests a data export from the privacy screen', async () => {
    await page.getByRole('link', { name: 'Privacy' }).click();
    await page.getByRole('heading', { name: 'Privacy' }).waitFor();
    const answer = page.waitForResponse((response) => response.url().endsWith('/api/v1/me/export') && response.request().method() === 'POST');
    await page.getByRole('button', { name: 'Request a data export', exact: true }).click();
    expect((await answer).status()).toBe(202);
    await page.getByText('Export requested.').waitFor();
    await screenshot(page, 'privacy');
  });

  it('downloads the export once through the mailed link', async () => {
    const mail = await stack.sink.next(EMAIL, /export is ready/i, 30_000);
    const link = linkIn(mail.text);
    expect(new URL(link).pathname).toBe('/exports');
    await page.goto(link);
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download my data', exact: true }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^bastion-export-.*\.zip$/);
    const bytes = await readFile((await download.path())!);
    expect(bytes.subarray(0, 2).toString()).toBe('PK'); // a ZIP archive
    await page.getByText('Downloaded.').waitFor();
    expect(page.url(), 'the token is dropped from the address bar').not.toContain('token=');
  });

  it('sent the CSRF token with every state-changing call of a signed-in page, and the server refuses one without it', async () => {
    const unsafe = [watch, ...others.map((o) => o.watch)].flatMap((w) => w.requests).filter((r) => UNSAFE.has(r.method) && new URL(r.url).pathname.startsWith('/api/v1/'));
    const signedIn = unsafe.filter((r) => !PRE_LOGIN.test(new URL(r.url).pathname));
    expect(signedIn.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(expect.arrayContaining(['POST /api/v1/auth/mfa/totp/setup', 'POST /api/v1/auth/mfa/totp/confirm', 'POST /api/v1/auth/logout', 'POST /api/v1/me/export']));
    expect(signedIn.filter((r) => r.url.includes('/auth/sessions/')).map((r) => r.method)).toEqual(['DELETE']);
    const missing = signedIn.filter((r) => !r.headers['x-csrf-token']);
    expect(missing.map((r) => `${r.method} ${r.url}`)).toEqual([]);
    // The control itself: the same session, a state-changing call without the token.
    const refused = await browserApi.call('POST', '/knowledge-bases', { name: 'no token' }, { csrf: false });
    expect(refused.status()).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('csrf_failed');
  });

  it('saw no CSP violation, uncaught error or dialog on any page', async () => {
    const all = [watch, ...others.map((o) => o.watch)];
    expect(all.flatMap((w) => w.csp)).toEqual([]);
    expect(all.flatMap((w) => w.pageErrors)).toEqual([]);
    expect(all.flatMap((w) => w.unexpectedConsoleErrors())).toEqual([]);
    expect(all.flatMap((w) => w.dialogs)).toEqual([]);
  });
});
