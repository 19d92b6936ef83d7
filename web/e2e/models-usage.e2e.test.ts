/**
 * Picking the model and per-member usage in Chromium, with two people in a team workspace:
 * the admin lets members pick the model in the agent editor; the member picks another model
 * in the chat (the provider is asked for it, the answer says it came from it, the pick
 * survives leaving and reopening the conversation in this page session); the admin's usage
 * screen lists the member's row with the answers counted. Throughout: no CSP violation, no
 * dialog, no uncaught error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { apiAccount, BrowserApi, createFirstAdmin, firstVisit, linkIn, PASSWORD, signIn, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const ADMIN = { name: 'Mona Modeller', email: 'mona@example.org' };
const MEMBER_EMAIL = 'pat.member@example.org';

interface Person {
  context: BrowserContext;
  watch: Watch;
  page: Page;
  api: BrowserApi;
}

let stack: Stack;
let chromium: OpenBrowser;
let admin: Person;
let member: Person;
let current: Page | undefined;
const ids: { workspace?: string; agent?: string; conversation?: string } = {};

stepsInOrder(
  'models-usage',
  () => current,
  () => [admin, member].map((p) => (p ? `\nconsole errors: ${JSON.stringify(p.watch.consoleErrors)}\npage errors: ${JSON.stringify(p.watch.pageErrors)}\nCSP: ${JSON.stringify(p.watch.csp)}` : '')).join(''),
);

async function person(): Promise<Person> {
  const { context, watch } = await watchedContext(chromium.browser, stack.baseUrl);
  return { context, watch, page: await context.newPage(), api: new BrowserApi(context, stack.baseUrl) };
}

beforeAll(async () => {
  stack = await startStack('modelsusage');
  await createFirstAdmin(stack.baseUrl, stack.logFile, ADMIN);
  await apiAccount(stack.baseUrl, stack.sink, MEMBER_EMAIL);
  chromium = await launchChromium();
  admin = await person();
  member = await person();
});

afterAll(async () => {
  await admin?.context.close();
  await member?.context.close();
  await chromium?.close();
  await stack?.close();
});

const chatModels = () => stack.fake.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => (r.body as { model?: string }).model);

describe('picking the model and usage per member', () => {
  it('sets up a team workspace with an agent on the fake provider and a member', async () => {
    const page = (current = admin.page);
    await firstVisit(page, '/sign-in');
    await signIn(page, ADMIN.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    ids.workspace = (await admin.api.json<{ id: string }>('POST', '/workspaces', { name: 'Model team' })).id;
    const inTeam = { workspace: ids.workspace };
    const connection = await admin.api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake provider', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-e2e-models-key-3b9d' }, inTeam);
    ids.agent = (await admin.api.json<{ id: string }>('POST', '/agents', { name: 'Switcher', providerConnectionId: connection.id, model: 'fake-model-1' }, inTeam)).id;
    await admin.api.json('POST', `/workspaces/${ids.workspace}/invitations`, { email: MEMBER_EMAIL, role: 'member' });
    const token = new URLSearchParams(new URL(linkIn((await stack.sink.next(MEMBER_EMAIL, /invited/i, 10_000)).text)).hash.slice(1)).get('token');

    current = member.page;
    await firstVisit(member.page, '/sign-in');
    await signIn(member.page, MEMBER_EMAIL, PASSWORD);
    await member.page.waitForURL((url) => url.pathname === '/chat');
    await member.api.json('POST', '/workspaces/invitations/accept', { token });
    ids.conversation = (await member.api.json<{ id: string }>('POST', '/conversations', { agentId: ids.agent }, inTeam)).id;
  });

  it('shows the member no model picker while the agent does not allow one', async () => {
    const page = (current = member.page);
    await page.goto(`/chat/${ids.conversation}`); // the link switches the member into the team workspace
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.getByTestId('model-picker').count()).toBe(0);
  });

  it('lets the admin allow picking the model, in the agent editor', async () => {
    const page = (current = admin.page);
    await page.goto(`/agents/${ids.agent}`);
    const allow = page.getByRole('checkbox', { name: /Let members pick the model/ });
    await allow.check();
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved as version 2.' }).waitFor();
    const agent = await admin.api.json<{ config: { allowModelOverride: boolean } }>('GET', `/agents/${ids.agent}`, undefined, { workspace: ids.workspace! });
    expect(agent.config.allowModelOverride).toBe(true);
    await screenshot(page, 'models-usage-agent');
  });

  it('lets the member pick another model, and the answer says it came from it', async () => {
    const page = (current = member.page);
    await page.goto(`/chat/${ids.conversation}`);
    const picker = page.getByLabel('Model', { exact: true });
    await picker.waitFor();
    expect(await picker.locator('option').allTextContents()).toEqual(['fake-model-1 (agent default)', 'fake-model-2']);
    await page.getByRole('button', { name: 'Refresh list' }).click();
    await page.getByRole('button', { name: 'Refresh list' }).waitFor(); // back from "Refreshing…"
    await picker.selectOption('fake-model-2');
    stack.fake.reset();
    stack.fake.enqueue({ kind: 'text', text: 'The second model speaking.', usage: { input: 12, output: 6 } });
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('Which model are you?');
    await box.press('Enter');
    const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
    await answer.getByText('The second model speaking.').waitFor();
    await expect(answer.getByTestId('message-model').textContent()).resolves.toBe('Answered by fake-model-2');
    expect(chatModels()).toEqual(['fake-model-2']);
    // Left and reopened in this page session (client-side navigation), the conversation keeps the pick.
    await page.getByRole('link', { name: 'New conversation' }).click();
    await page.waitForURL((url) => url.pathname === '/chat');
    await page
      .getByRole('link', { name: /Which model are you/ })
      .first()
      .click();
    await page.waitForURL((url) => url.pathname === `/chat/${ids.conversation}`);
    await expect(page.getByLabel('Model', { exact: true }).inputValue()).resolves.toBe('fake-model-2');
    await screenshot(page, 'models-usage-chat');
  });

  it('lets the member pick the model on the new-conversation page, for its first answer', async () => {
    const page = (current = member.page);
    await page.getByRole('link', { name: 'New conversation' }).click();
    await page.waitForURL((url) => url.pathname === '/chat');
    const picker = page.getByLabel('Model', { exact: true });
    await picker.waitFor();
    await picker.selectOption('fake-model-2');
    stack.fake.reset();
    stack.fake.enqueue({ kind: 'text', text: 'Second model, first answer.', usage: { input: 10, output: 5 } });
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('A fresh question');
    await box.press('Enter');
    await page.waitForURL((url) => /^\/chat\/[0-9a-f-]{36}$/.test(url.pathname));
    const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
    await answer.getByText('Second model, first answer.').waitFor();
    await expect(answer.getByTestId('message-model').textContent()).resolves.toBe('Answered by fake-model-2');
    expect(chatModels()).toEqual(['fake-model-2']);
    await expect(page.getByLabel('Model', { exact: true }).inputValue()).resolves.toBe('fake-model-2');
  });

  it('shows the admin the member’s answers on the usage screen', async () => {
    const page = (current = admin.page);
    await page.goto('/workspace');
    await page.getByRole('heading', { level: 1, name: 'Model team' }).waitFor();
    const row = page.getByTestId('member-usage-row').filter({ hasText: MEMBER_EMAIL });
    await row.waitFor();
    await expect(row.getByTestId('member-usage-answers').textContent(), 'the two answers of the steps above').resolves.toBe('2');
    expect(await page.getByTestId('member-usage-row').count(), 'only the member answered here').toBe(1);
    await screenshot(page, 'models-usage-usage');
  });

  it('saw no CSP violation, no dialog and no uncaught error', () => {
    for (const { watch } of [admin, member]) {
      expect(watch.dialogs, 'no alert/confirm/prompt').toEqual([]);
      expect(watch.csp).toEqual([]);
      expect(watch.pageErrors).toEqual([]);
      expect(watch.unexpectedConsoleErrors()).toEqual([]);
    }
  });
});
