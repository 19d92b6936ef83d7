/**
 * Honest states in Chromium: a link into another of your workspaces switches to it, the last
 * workspace is remembered across sign-ins, a session that ended keeps the unsent message and
 * says why it asks to sign in again, a failed send says the server cannot be reached and keeps
 * the text, a mailed export link survives the detour through sign-in, and browser storage
 * holds no credential while signed in and nothing of the person once signed out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { expectAccessible } from './a11y.js';
import { BrowserApi, createFirstAdmin, firstVisit, linkIn, PASSWORD, signIn, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const PERSON = { name: 'Parker Person', email: 'parker@example.org' };

let stack: Stack;
let chromium: OpenBrowser;
let context: BrowserContext;
let page: Page;
let api: BrowserApi;
const watches: Watch[] = [];
const ids: { team?: string; personal?: string; teamConversation?: string; personalAgent?: string } = {};

stepsInOrder('states', () => page);

beforeAll(async () => {
  stack = await startStack('states');
  await createFirstAdmin(stack.baseUrl, stack.logFile, PERSON);
  chromium = await launchChromium();
  const opened = await watchedContext(chromium.browser, stack.baseUrl);
  ({ context } = opened);
  watches.push(opened.watch);
  page = await context.newPage();
  api = new BrowserApi(context, stack.baseUrl);
});

afterAll(async () => {
  await chromium?.close();
  await stack?.close();
});

/** The page's storage, as the browser-side functions below see it (this file is typed without the DOM). */
interface BrowserGlobals {
  document: { cookie: string };
  localStorage: Record<string, string>;
  sessionStorage: Record<string, string>;
  indexedDB: { databases(): Promise<{ name?: string }[]> };
  caches: { keys(): Promise<string[]>; open(name: string): Promise<{ keys(): Promise<{ url: string }[]> }> };
}

/** What the app put in storage; SvelteKit's own scroll positions (numbers) and empty snapshots aside. */
const ours = (stored: Record<string, string>) => Object.fromEntries(Object.entries(stored).filter(([key, value]) => !(key === 'sveltekit:scroll' || (key === 'sveltekit:snapshot' && value === '{}'))));

const switcher = (p: Page) => p.locator('#workspace-switcher');
const switcherName = (p: Page) =>
  switcher(p)
    .inputValue()
    .then((id) => p.locator(`#workspace-switcher option[value="${id}"]`).innerText());

describe('honest states', () => {
  it('opens a link into another of my workspaces by switching to it', async () => {
    await firstVisit(page, '/sign-in');
    await signIn(page, PERSON.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    await expect.poll(() => switcherName(page)).toBe('Personal');
    ids.personal = await switcher(page).inputValue();
    ids.team = (await api.json<{ id: string }>('POST', '/workspaces', { name: 'Team' })).id;
    const teamAgent = await api.json<{ id: string }>('POST', '/agents', { name: 'Team helper', providerConnectionId: null, model: 'extractive' }, { workspace: ids.team });
    ids.teamConversation = (await api.json<{ id: string }>('POST', '/conversations', { agentId: teamAgent.id }, { workspace: ids.team })).id;
    ids.personalAgent = (await api.json<{ id: string }>('POST', '/agents', { name: 'My helper', providerConnectionId: null, model: 'extractive' }, { workspace: ids.personal })).id;

    await page.goto(`/chat/${ids.teamConversation}`);
    await page.getByText('Switched to the workspace “Team”, where this conversation is.').waitFor();
    expect(new URL(page.url()).pathname).toBe(`/chat/${ids.teamConversation}`);
    await expect.poll(() => switcherName(page)).toBe('Team');
    await page.getByRole('heading', { level: 1, name: 'New conversation' }).waitFor();

    await page.goto(`/agents/${ids.personalAgent}`);
    await page.getByText('Switched to the workspace “Personal”, where this agent is.').waitFor();
    await page.getByRole('heading', { level: 1, name: 'My helper' }).waitFor();
    await expect.poll(() => switcherName(page)).toBe('Personal');
  });

  it('still shows “not found” for a conversation that is in none of my workspaces', async () => {
    await page.goto('/chat/00000000-0000-4000-8000-000000000000');
    await page.waitForURL((url) => url.pathname === '/chat');
    await expect.poll(() => switcherName(page)).toBe('Personal');
  });

  it('remembers the last workspace across sign-out and sign-in, on any device', async () => {
    await page.goto('/chat');
    await switcher(page).selectOption(ids.team!);
    await expect.poll(() => switcherName(page)).toBe('Team');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    await signIn(page, PERSON.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    await expect.poll(() => switcherName(page)).toBe('Team');

    // On another device too: the server keeps the choice.
    const elsewhere = await watchedContext(chromium.browser, stack.baseUrl);
    watches.push(elsewhere.watch);
    const other = await elsewhere.context.newPage();
    await firstVisit(other, '/sign-in');
    await signIn(other, PERSON.email, PASSWORD);
    await other.waitForURL((url) => url.pathname === '/chat');
    await expect.poll(() => switcherName(other)).toBe('Team');
    await elsewhere.context.close();
  });

  it('keeps the unsent message when the session has ended, and says why it asks to sign in', async () => {
    await page.goto(`/chat/${ids.teamConversation}`);
    const composer = page.getByLabel('Message', { exact: true });
    await composer.fill('How many days do I have to claim rail tickets?');
    // Loaded first: a request of the page still in flight when the session ends would send it
    // to sign-in before Send is pressed (seen on a loaded machine).
    await expect.poll(() => page.getByRole('button', { name: 'Send', exact: true }).isEnabled(), { timeout: 30_000 }).toBe(true);
    await page.waitForLoadState('networkidle');
    // The session ends behind the page's back (as an expiry or a sign-out elsewhere would).
    api = new BrowserApi(context, stack.baseUrl); // signed in again since: a new CSRF token
    expect((await api.call('POST', '/auth/logout')).status()).toBeLessThan(300);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    await page.getByText('Your session has ended').waitFor();
    await expectAccessible(page, 'sign-in after the session ended');
    await screenshot(page, 'session-ended');
    await signIn(page, PERSON.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === `/chat/${ids.teamConversation}`);
    await expect.poll(() => page.getByLabel('Message', { exact: true }).inputValue()).toBe('How many days do I have to claim rail tickets?');
  });

  it('says the server cannot be reached when sending fails, and keeps the text', async () => {
    const composer = page.getByLabel('Message', { exact: true });
    // The draft comes back before the conversation has loaded (Send stays disabled until it has):
    // going offline earlier would leave nothing to send.
    await expect.poll(() => page.getByRole('button', { name: 'Send', exact: true }).isEnabled(), { timeout: 30_000 }).toBe(true);
    await context.setOffline(true);
    try {
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /cannot be reached/ })
        .waitFor();
      expect(await composer.inputValue()).toBe('How many days do I have to claim rail tickets?');
      expect(await page.getByTestId('messages').getByText('How many days').count(), 'the refused message is not shown as sent').toBe(0);
    } finally {
      await context.setOffline(false);
    }
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByTestId('messages').getByText('How many days do I have to claim rail tickets?').waitFor();
    await expect.poll(() => composer.inputValue()).toBe('');
  });

  it('brings a mailed export link back after signing in, with its token', async () => {
    api = new BrowserApi(context, stack.baseUrl);
    const requested = await api.call('POST', '/me/export');
    expect(requested.status(), await requested.text()).toBe(202);
    const link = linkIn((await stack.sink.next(PERSON.email, /export/i, 30_000)).text);
    expect(new URL(link).pathname).toBe('/exports');
    const fresh = await watchedContext(chromium.browser, stack.baseUrl);
    watches.push(fresh.watch);
    const other = await fresh.context.newPage();
    await firstVisit(other, link);
    await other.waitForURL((url) => url.pathname === '/sign-in');
    expect(other.url(), 'the token never travels in the query string').not.toContain('token');
    await signIn(other, PERSON.email, PASSWORD);
    await other.waitForURL((url) => url.pathname === '/exports');
    const download = other.waitForEvent('download');
    await other.getByRole('button', { name: 'Download my data', exact: true }).click();
    expect((await download).suggestedFilename()).toMatch(/^bastion-export-.*\.zip$/);
    await other.getByText('Downloaded.').waitFor();
    expect(other.url()).not.toContain('token');
    await fresh.context.close();
  });

  it('keeps no credential in browser storage, and nothing of the person once signed out [ASVS 14.3.1, 14.3.3]', async () => {
    await page.goto(`/chat/${ids.teamConversation}`);
    await page.getByTestId('messages').getByText('How many days do I have to claim rail tickets?').waitFor();
    await page.getByLabel('Message', { exact: true }).fill('A draft about the Lyon offsite');
    await expect.poll(() => page.evaluate(() => Object.keys((globalThis as unknown as BrowserGlobals).sessionStorage).length)).toBeGreaterThan(0);
    const secrets = (await context.cookies()).map((cookie) => cookie.value).filter((value) => value.length >= 16);
    expect(secrets.length, 'the session cookie').toBeGreaterThan(0);
    const held = () =>
      page.evaluate(async () => {
        const { document, localStorage, sessionStorage, indexedDB, caches } = globalThis as unknown as BrowserGlobals;
        return {
          cookies: document.cookie,
          local: Object.fromEntries(Object.entries(localStorage)),
          session: Object.fromEntries(Object.entries(sessionStorage)),
          databases: (await indexedDB.databases()).map((db) => db.name),
          cached: (await Promise.all((await caches.keys()).map(async (name) => (await (await caches.open(name)).keys()).map((request) => new URL(request.url).pathname)))).flat(),
        };
      });

    // Signed in: the session is an HttpOnly cookie that scripts cannot read, and no storage
    // holds a credential; the service worker caches the public app only, never an API answer.
    const during = await held();
    for (const secret of secrets) expect(JSON.stringify(during), 'a cookie value in script-readable storage').not.toContain(secret);
    expect(Object.keys(during.local)).toEqual(['bastion.workspace']);
    expect(during.databases).toEqual([]);
    expect(during.cached.filter((path) => path.startsWith('/api/'))).toEqual([]);

    // Signed out: the draft is gone, only the last workspace's id stays (the server keeps it too).
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    const after = await held();
    expect(ours(after.session)).toEqual({});
    expect(Object.keys(after.local)).toEqual(['bastion.workspace']);
    expect(after.cookies).toBe('');
    expect(JSON.stringify(after)).not.toContain('Lyon');
    // Going back does not bring the conversation back from memory: the page loads anew and asks to sign in.
    await page.goBack();
    await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { performance: { getEntriesByType(type: string): { type?: string }[] } }).performance.getEntriesByType('navigation')[0]?.type)).toBe('navigate');
    expect(await page.getByText('How many days do I have to claim rail tickets?').count()).toBe(0);
  });

  it('clears unsent drafts when signing out every session from the account page [ASVS 14.3.1]', async () => {
    await page.goto('/sign-in');
    await signIn(page, PERSON.email, PASSWORD);
    await page.waitForURL((url) => url.pathname.startsWith('/chat'));
    await page.goto(`/chat/${ids.teamConversation}`);
    await page.getByLabel('Message', { exact: true }).fill('Another draft about the Lyon offsite');
    await expect.poll(() => page.evaluate(() => Object.keys((globalThis as unknown as BrowserGlobals).sessionStorage).length)).toBeGreaterThan(0);
    await page.goto('/account');
    await page.getByRole('button', { name: 'Sign out everywhere', exact: true }).waitFor();
    await page.evaluate(() => ((globalThis as unknown as { confirm: () => boolean }).confirm = () => true)); // the "this one included?" question, answered yes
    await page.getByRole('button', { name: 'Sign out everywhere', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    const left = await page.evaluate(() => Object.fromEntries(Object.entries((globalThis as unknown as BrowserGlobals).sessionStorage)));
    expect(ours(left)).toEqual({});
    expect(JSON.stringify(left)).not.toContain('Lyon');
  });

  it('saw no CSP violation, no dialog and no uncaught error', () => {
    for (const watch of watches) {
      expect(watch.dialogs).toEqual([]);
      expect(watch.csp).toEqual([]);
      expect(watch.pageErrors).toEqual([]);
    }
  });
});
