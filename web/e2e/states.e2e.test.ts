/**
 * Honest states in Chromium: a link into another of your workspaces switches to it, the last
 * workspace is remembered across sign-ins, a session that ended keeps the unsent message and
 * says why it asks to sign in again, a failed send says the server cannot be reached and keeps
 * the text, and a mailed export link survives the detour through sign-in.
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

  it('saw no CSP violation, no dialog and no uncaught error', () => {
    for (const watch of watches) {
      expect(watch.dialogs).toEqual([]);
      expect(watch.csp).toEqual([]);
      expect(watch.pageErrors).toEqual([]);
    }
  });
});
