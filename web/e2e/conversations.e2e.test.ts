/**
 * Organising conversations in Chromium: two conversations, one renamed and pinned (it moves
 * under Pinned), the other archived (found in the Archived view), a deletion taken back with
 * Undo (an in-page toast, never a confirm()), the `?` shortcuts dialog and the shortcuts
 * themselves (moving between conversations, search, new chat), a Markdown and a JSON export
 * downloaded, and the same screens on a 390×844 phone: the menu usable, nothing scrolling
 * sideways. Throughout: no CSP violation, no dialog, no uncaught error.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { expectAccessible, expectNoOverflow } from './a11y.js';
import { BrowserApi, createFirstAdmin, firstVisit, PASSWORD, signIn, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const PERSON = { name: 'Olive Organiser', email: 'olive@example.org' };

let stack: Stack;
let chromium: OpenBrowser;
let context: BrowserContext;
let watch: Watch;
let page: Page;
let api: BrowserApi;
const ids: { offsite?: string; budget?: string } = {};

stepsInOrder(
  'conversations',
  () => page,
  () => `\nconsole errors: ${JSON.stringify(watch.consoleErrors)}\npage errors: ${JSON.stringify(watch.pageErrors)}\nCSP: ${JSON.stringify(watch.csp)}`,
);

beforeAll(async () => {
  stack = await startStack('conversations');
  await createFirstAdmin(stack.baseUrl, stack.logFile, PERSON);
  chromium = await launchChromium();
  ({ context, watch } = await watchedContext(chromium.browser, stack.baseUrl));
  page = await context.newPage();
  api = new BrowserApi(context, stack.baseUrl);
});

afterAll(async () => {
  await context?.close();
  await chromium?.close();
  await stack?.close();
});

const pinned = () => page.getByTestId('pinned-conversations');
const recent = () => page.getByTestId('recent-conversations');
const list = () => page.getByRole('navigation', { name: 'Conversations' });
const heading = () => page.getByRole('heading', { level: 1 });

/** Opens the Actions menu of the open conversation and chooses an item, with the mouse. */
async function choose(item: string): Promise<void> {
  await page.getByRole('button', { name: 'Actions', exact: true }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

async function open(id: string, title: string): Promise<void> {
  await page.goto(`/chat/${id}`);
  await heading().filter({ hasText: title }).waitFor();
}

describe('organising conversations', () => {
  it('signs in and starts two conversations', async () => {
    await firstVisit(page, '/sign-in');
    await signIn(page, PERSON.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    const connection = await api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake provider', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-e2e-organise-key-7d2f' });
    const agent = await api.json<{ id: string }>('POST', '/agents', { name: 'Helper', providerConnectionId: connection.id, model: 'fake-model-1' });
    stack.fake.enqueue({ kind: 'text', text: 'Book the venue by March.' }, { kind: 'text', text: 'Spending is on track.' });
    ids.offsite = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
    await api.json('POST', `/conversations/${ids.offsite}/messages`, { content: 'Plan the offsite in Lisbon' });
    ids.budget = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
    await api.json('POST', `/conversations/${ids.budget}/messages`, { content: 'Quarterly budget review' });
    await open(ids.offsite, 'Plan the offsite in Lisbon');
    await recent()
      .getByRole('link', { name: /Quarterly budget review/ })
      .waitFor();
    await recent()
      .getByRole('link', { name: /Plan the offsite in Lisbon/ })
      .waitFor();
  });

  it('renames a conversation from its Actions menu', async () => {
    await choose('Rename');
    const title = page.getByLabel('Conversation title');
    expect(await title.inputValue()).toBe('Plan the offsite in Lisbon');
    await title.fill('Offsite planning');
    await title.press('Enter');
    await heading().filter({ hasText: 'Offsite planning' }).waitFor();
    await list()
      .getByRole('link', { name: /Offsite planning/ })
      .waitFor();
    expect((await api.json<{ title: string }>('GET', `/conversations/${ids.offsite}`)).title).toBe('Offsite planning');
  });

  it('pins it with the keyboard: it moves under Pinned', async () => {
    const actions = page.getByRole('button', { name: 'Actions', exact: true });
    await actions.focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => page.evaluate<string | null>("document.activeElement?.getAttribute('role')")).toBe('menuitem');
    await page.keyboard.press('ArrowDown'); // Rename → Pin
    expect(await page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Pin');
    await page.keyboard.press('Enter');
    await pinned()
      .getByRole('link', { name: /Offsite planning/ })
      .waitFor();
    expect(await page.getByRole('menu').count(), 'the menu closed').toBe(0);
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Actions');
    expect(await recent().getByRole('link').allInnerTexts()).toEqual([expect.stringContaining('Quarterly budget review')]);
    await expectAccessible(page, 'conversation list with a Pinned group');
    await screenshot(page, 'conversations-pinned');
  });

  it('archives the other: out of the list, in the Archived view, and back', async () => {
    await open(ids.budget!, 'Quarterly budget review');
    await choose('Archive');
    await expect.poll(() => recent().count()).toBe(0);
    await page.getByText('Archived', { exact: true }).waitFor(); // the tag beside the agent
    await page.getByRole('button', { name: 'Show archived', exact: true }).click();
    const archived = page.getByTestId('archived-conversations');
    await archived.getByRole('link', { name: /Quarterly budget review/ }).waitFor();
    await expectAccessible(page, 'archived view');
    await archived.getByRole('button', { name: 'Unarchive Quarterly budget review' }).click();
    await expect.poll(() => archived.getByRole('link').count()).toBe(0);
    await page.getByRole('button', { name: 'Show conversations', exact: true }).click();
    await recent()
      .getByRole('link', { name: /Quarterly budget review/ })
      .waitFor();
  });

  it('deletes with an Undo toast, and Undo restores it', async () => {
    await open(ids.offsite!, 'Offsite planning');
    await choose('Delete');
    await page.waitForURL((url) => url.pathname === '/chat');
    const toast = page.getByTestId('undo-toast');
    await toast.getByText('Conversation “Offsite planning” deleted.').waitFor();
    expect(
      await list()
        .getByRole('link', { name: /Offsite planning/ })
        .count(),
      'gone from the list at once',
    ).toBe(0);
    expect((await api.call('GET', `/conversations/${ids.offsite}`)).status(), 'and from the API').toBe(404);
    await expectAccessible(page, 'undo toast');
    await screenshot(page, 'conversations-undo');
    await toast.getByRole('button', { name: 'Undo', exact: true }).click();
    await page.waitForURL((url) => url.pathname === `/chat/${ids.offsite}`);
    await heading().filter({ hasText: 'Offsite planning' }).waitFor();
    await pinned()
      .getByRole('link', { name: /Offsite planning/ })
      .waitFor();
    await expect.poll(() => toast.count()).toBe(0);
  });

  it('opens the shortcuts dialog with ?, but not while typing', async () => {
    const composer = page.getByLabel('Message', { exact: true });
    await composer.focus();
    await page.keyboard.press('?');
    expect(await composer.inputValue(), 'typed as text').toBe('?');
    const dialog = page.getByTestId('shortcuts-dialog');
    expect(await dialog.isVisible()).toBe(false);
    await composer.fill('');
    await heading().click(); // out of the field
    await page.keyboard.press('?');
    await dialog.getByRole('heading', { name: 'Keyboard shortcuts' }).waitFor();
    expect(await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).isVisible()).toBe(true);
    expect(await dialog.innerText()).toContain('Next conversation');
    expect(await page.evaluate<boolean>("document.querySelector('dialog[open]')?.contains(document.activeElement) === true"), 'focus moved into the dialog').toBe(true);
    // Focus stays inside: Tab cycles within the modal dialog.
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate<boolean>("document.activeElement === document.body || document.querySelector('dialog[open]')?.contains(document.activeElement) === true")).toBe(true);
    }
    await expectAccessible(page, 'shortcuts dialog');
    await screenshot(page, 'conversations-shortcuts');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);
  });

  it('moves between conversations, searches and starts a new one with shortcuts', async () => {
    // Pinned first, then recent: Offsite planning, then Quarterly budget review. Alt+Arrow works in the message box too.
    await page.getByLabel('Message', { exact: true }).focus();
    await page.keyboard.press('Alt+ArrowDown');
    await page.waitForURL((url) => url.pathname === `/chat/${ids.budget}`);
    await heading().filter({ hasText: 'Quarterly budget review' }).waitFor();
    await page.keyboard.press('Alt+ArrowUp');
    await page.waitForURL((url) => url.pathname === `/chat/${ids.offsite}`);
    // Loaded: the conversation puts the focus in its message box.
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.id')).toBe('composer-input');

    await page.keyboard.press('Control+k');
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.id')).toBe('conversation-filter');
    await page.keyboard.type('budget');
    await expect.poll(() => list().getByTestId('conversation-link').count()).toBe(1);
    expect(await list().getByTestId('conversation-link').innerText()).toContain('Quarterly budget review');
    await page.getByLabel('Search conversations').fill('');

    await page.keyboard.press('Control+Shift+O');
    await page.waitForURL((url) => url.pathname === '/chat');
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.id')).toBe('composer-input');
  });

  it('exports a conversation as Markdown and as JSON', async () => {
    await open(ids.offsite!, 'Offsite planning');
    const markdownDownload = page.waitForEvent('download');
    await choose('Export as Markdown');
    const markdown = await markdownDownload;
    expect(markdown.suggestedFilename()).toMatch(/^offsite-planning-[0-9a-f]{8}\.md$/);
    const text = await readFile((await markdown.path())!, 'utf8');
    expect(text.startsWith('# Offsite planning\n')).toBe(true);
    expect(text).toContain('Plan the offsite in Lisbon');
    expect(text).toContain('Book the venue by March.');
    expect(text).toContain('### Assistant');

    const jsonDownload = page.waitForEvent('download');
    await choose('Export as JSON');
    const json = await jsonDownload;
    expect(json.suggestedFilename()).toMatch(/^offsite-planning-[0-9a-f]{8}\.json$/);
    const doc = JSON.parse(await readFile((await json.path())!, 'utf8'));
    expect(doc).toMatchObject({ format: 'bastion.conversation.v1', conversation: { id: ids.offsite, title: 'Offsite planning', pinned: true }, agent: { name: 'Helper' } });
    expect(doc.messages.map((m: { role: string; text: string }) => [m.role, m.text])).toEqual([
      ['user', 'Plan the offsite in Lisbon'],
      ['assistant', 'Book the venue by March.'],
    ]);
  });

  it('on a phone: the list in its drawer, the menu usable, nothing scrolls sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open(ids.offsite!, 'Offsite planning');
    await expectNoOverflow(page);
    await page.getByRole('button', { name: 'Actions', exact: true }).click();
    const menu = page.getByRole('menu');
    await menu.waitFor();
    for (const item of await menu.getByRole('menuitem').all()) {
      const box = (await item.boundingBox())!;
      expect(box.x, `${await item.innerText()} starts on screen`).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, `${await item.innerText()} ends on screen`).toBeLessThanOrEqual(390);
      expect(box.height, 'a finger-sized target').toBeGreaterThanOrEqual(24);
    }
    await expectNoOverflow(page);
    await expectAccessible(page, 'phone: actions menu open');
    await screenshot(page, 'phone-conversation-menu');
    await menu.getByRole('menuitem', { name: 'Unpin', exact: true }).click();
    await page.getByRole('button', { name: 'Conversations', exact: true }).click();
    await recent()
      .getByRole('link', { name: /Offsite planning/ })
      .waitFor();
    expect(await pinned().count()).toBe(0);
    await expectNoOverflow(page);
    await screenshot(page, 'phone-conversation-list');
    await page.keyboard.press('Escape');

    // Rename on the phone: the form fits.
    await choose('Rename');
    await page.getByLabel('Conversation title').fill('Offsite planning, Lisbon, in the spring of next year with the whole team');
    await expectNoOverflow(page);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await heading().filter({ hasText: 'whole team' }).waitFor();
    await expectNoOverflow(page);
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('saw no CSP violation, no dialog and no uncaught error', () => {
    expect(watch.dialogs, 'no alert/confirm/prompt').toEqual([]);
    expect(watch.csp).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
    expect(watch.unexpectedConsoleErrors()).toEqual([]);
  });
});
