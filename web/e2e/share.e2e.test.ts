/**
 * Sharing a conversation read-only in Chromium, with two people in a team workspace: the
 * author opens Share… in the conversation's Actions menu, creates the link and copies it;
 * the colleague opens it and reads the conversation ("Shared by … — read only", no
 * composer), also on a 390×844 phone without sideways scroll; the author stops sharing and
 * the colleague's link shows the not-found page. Throughout: no CSP violation, no dialog,
 * no uncaught error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { expectNoOverflow } from './a11y.js';
import { apiAccount, BrowserApi, createFirstAdmin, firstVisit, linkIn, PASSWORD, signIn, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const AUTHOR = { name: 'Sara Sharer', email: 'sara@example.org' };
const COLLEAGUE_EMAIL = 'cole.league@example.org';

interface Person {
  context: BrowserContext;
  watch: Watch;
  page: Page;
  api: BrowserApi;
}

let stack: Stack;
let chromium: OpenBrowser;
let author: Person;
let colleague: Person;
let current: Page | undefined;
const ids: { workspace?: string; conversation?: string; link?: string } = {};

stepsInOrder(
  'share',
  () => current,
  () => [author, colleague].map((p) => (p ? `\nconsole errors: ${JSON.stringify(p.watch.consoleErrors)}\npage errors: ${JSON.stringify(p.watch.pageErrors)}\nCSP: ${JSON.stringify(p.watch.csp)}` : '')).join(''),
);

async function person(): Promise<Person> {
  const { context, watch } = await watchedContext(chromium.browser, stack.baseUrl);
  return { context, watch, page: await context.newPage(), api: new BrowserApi(context, stack.baseUrl) };
}

beforeAll(async () => {
  stack = await startStack('share');
  await createFirstAdmin(stack.baseUrl, stack.logFile, AUTHOR);
  await apiAccount(stack.baseUrl, stack.sink, COLLEAGUE_EMAIL);
  chromium = await launchChromium();
  author = await person();
  colleague = await person();
});

afterAll(async () => {
  await author?.context.close();
  await colleague?.context.close();
  await chromium?.close();
  await stack?.close();
});

describe('sharing a conversation read-only', () => {
  it('sets up a team workspace with a conversation and a colleague', async () => {
    const page = (current = author.page);
    await firstVisit(page, '/sign-in');
    await signIn(page, AUTHOR.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    ids.workspace = (await author.api.json<{ id: string }>('POST', '/workspaces', { name: 'Share team' })).id;
    const inTeam = { workspace: ids.workspace };
    const connection = await author.api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake provider', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-e2e-share-key-5c1e' }, inTeam);
    const agent = await author.api.json<{ id: string }>('POST', '/agents', { name: 'Helper', providerConnectionId: connection.id, model: 'fake-model-1' }, inTeam);
    stack.fake.enqueue({ kind: 'text', text: 'Refunds are accepted **within 30 days**.' });
    ids.conversation = (await author.api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id }, inTeam)).id;
    await author.api.json('POST', `/conversations/${ids.conversation}/messages`, { content: 'What is our refund window?' }, inTeam);
    await author.api.json('POST', `/workspaces/${ids.workspace}/invitations`, { email: COLLEAGUE_EMAIL, role: 'member' });
    const token = new URLSearchParams(new URL(linkIn((await stack.sink.next(COLLEAGUE_EMAIL, /invited/i, 10_000)).text)).hash.slice(1)).get('token');

    current = colleague.page;
    await firstVisit(colleague.page, '/sign-in');
    await signIn(colleague.page, COLLEAGUE_EMAIL, PASSWORD);
    await colleague.page.waitForURL((url) => url.pathname === '/chat');
    await colleague.api.json('POST', '/workspaces/invitations/accept', { token });
  });

  it('lets the author create the link from the Actions menu', async () => {
    const page = (current = author.page);
    await page.goto(`/chat/${ids.conversation}`); // the link switches the author into the team workspace
    await page.getByRole('heading', { level: 1, name: 'What is our refund window?' }).waitFor();
    await page.getByRole('button', { name: 'Actions', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Share…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Share read-only' });
    await dialog.waitFor();
    await expect(dialog.textContent()).resolves.toContain('Members of Share team can read it');
    await dialog.getByRole('button', { name: 'Create link' }).click();
    const input = dialog.getByLabel('Link');
    await input.waitFor();
    ids.link = await input.inputValue();
    expect(ids.link).toMatch(new RegExp(`^${stack.baseUrl}/shared/[A-Za-z0-9_-]{22}$`));
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Link copied|Could not copy/ })
      .waitFor({ state: 'attached' });
    await screenshot(page, 'share-dialog');
    await dialog.getByRole('button', { name: 'Close' }).click();
    // Reopened, the dialog shows the same link.
    await page.getByRole('button', { name: 'Actions', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Share…', exact: true }).click();
    await expect(dialog.getByLabel('Link').inputValue()).resolves.toBe(ids.link);
  });

  it('lets the colleague read it, read-only, also on a phone', async () => {
    const page = (current = colleague.page);
    await page.goto(ids.link!);
    await page.getByRole('heading', { level: 1, name: 'What is our refund window?' }).waitFor();
    await expect(page.getByTestId('shared-by').textContent()).resolves.toMatch(/^Shared by Sara Sharer on .+ — read only$/);
    const answer = page.locator('[data-testid="message"][data-role="assistant"]');
    await answer.getByText('within 30 days').waitFor();
    expect(await answer.locator('strong').textContent(), 'rendered as Markdown').toBe('within 30 days');
    expect(await page.getByRole('textbox', { name: 'Message' }).count(), 'no composer').toBe(0);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'What is our refund window?' }).waitFor();
    await expectNoOverflow(page);
    await screenshot(page, 'share-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('ends the link when the author stops sharing', async () => {
    current = author.page;
    const dialog = author.page.getByRole('dialog', { name: 'Share read-only' });
    await dialog.getByRole('button', { name: 'Stop sharing' }).click();
    await dialog.getByRole('button', { name: 'Create link' }).waitFor();

    const page = (current = colleague.page);
    await page.reload();
    await page.getByTestId('shared-missing').waitFor();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Not found');
    expect(await page.getByText('within 30 days').count(), 'nothing of the conversation left').toBe(0);
    await screenshot(page, 'share-revoked');
  });

  it('saw no CSP violation, no dialog and no uncaught error', () => {
    for (const { watch } of [author, colleague]) {
      expect(watch.dialogs, 'no alert/confirm/prompt').toEqual([]);
      expect(watch.csp).toEqual([]);
      expect(watch.pageErrors).toEqual([]);
      expect(watch.unexpectedConsoleErrors()).toEqual([]);
    }
  });
});
