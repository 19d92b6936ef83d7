/**
 * Attaching a file to a question in Chromium: the paperclip's file input attaches a
 * Markdown file with a distinctive fact, its chip shows Processing then Ready (sending waits
 * for it), the question is asked, and the streamed answer's citation names the attached
 * file; the model was given its passage. A file dropped onto the message box is attached
 * too, and removing the chips removes the attachments. On the new-conversation page a file
 * is staged beside the first question and attached once the conversation exists; the question
 * waits for it and its answer cites it; a file that cannot be attached keeps the question unsent.
 * Throughout: no CSP violation, no dialog, no uncaught error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { BrowserApi, createFirstAdmin, firstVisit, PASSWORD, signIn, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const PERSON = { name: 'Alma Attacher', email: 'alma@example.org' };
const FACT = '# Lighthouse\n\nThe Quillhaven lighthouse keeper feeds the gulls at 7:40 every morning.\n';

let stack: Stack;
let chromium: OpenBrowser;
let context: BrowserContext;
let watch: Watch;
let page: Page;
let api: BrowserApi;
const state: { conversationId?: string } = {};

stepsInOrder(
  'attachments',
  () => page,
  () => `\nconsole errors: ${JSON.stringify(watch.consoleErrors)}\npage errors: ${JSON.stringify(watch.pageErrors)}\nCSP: ${JSON.stringify(watch.csp)}`,
);

beforeAll(async () => {
  stack = await startStack('attachments');
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

const chips = () => page.getByRole('list', { name: 'Attached files' }).getByRole('listitem');

describe('attaching files to a question', () => {
  it('signs in and opens a conversation', async () => {
    await firstVisit(page, '/sign-in');
    await signIn(page, PERSON.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    const connection = await api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake provider', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-e2e-attach-key-3c8e' });
    const agent = await api.json<{ id: string }>('POST', '/agents', { name: 'Helper', providerConnectionId: connection.id, model: 'fake-model-1' });
    state.conversationId = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
    await page.goto(`/chat/${state.conversationId}`);
    await page.getByLabel('Message').waitFor();
  });

  it('attaches a Markdown file with the paperclip and waits until it is ready', async () => {
    await page.getByLabel('File to attach').setInputFiles({ name: 'lighthouse.md', mimeType: 'text/markdown', buffer: Buffer.from(FACT) });
    const chip = chips().filter({ hasText: 'lighthouse.md' });
    await chip.waitFor();
    await chip.getByText('Ready').waitFor({ timeout: 30_000 });
    await screenshot(page, 'attachment-ready');
  });

  it('asks about it and the streamed answer cites the attached file', async () => {
    stack.fake.enqueue({ kind: 'text', text: 'The keeper feeds the gulls at **7:40** [1].', chunkDelayMs: 40 });
    await page.getByLabel('Message').fill('When does the Quillhaven lighthouse keeper feed the gulls?');
    await page.getByLabel('Message').press('Enter');
    const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 15_000 }).toBe('complete');
    expect(await answer.getByTestId('message-body').innerText()).toContain('7:40');
    const citation = answer.getByRole('button', { name: /^\[1\] / });
    expect(await citation.innerText()).toContain('lighthouse.md');
    // The model was given the attached passage to cite.
    expect(JSON.stringify(stack.fake.requests.at(-1)?.body)).toContain('feeds the gulls at 7:40');
    await screenshot(page, 'attachment-cited');
  });

  it('attaches a file dropped onto the message box', async () => {
    // Made in the page (a string: the e2e code is typed for Node, not the DOM).
    const dataTransfer = await page.evaluateHandle(`(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['Dropped note: the ferry to Quillhaven leaves at dawn.'], 'dropped.txt', { type: 'text/plain' }));
      return transfer;
    })()`);
    await page.getByLabel('Message').dispatchEvent('dragover', { dataTransfer });
    await page.getByLabel('Message').dispatchEvent('drop', { dataTransfer });
    await chips().filter({ hasText: 'dropped.txt' }).getByText('Ready').waitFor({ timeout: 30_000 });
    expect(await page.getByLabel('Message').inputValue(), 'the file is not pasted as text').toBe('');
  });

  it('removes the attachments with their × buttons', async () => {
    await page.getByRole('button', { name: 'Remove dropped.txt' }).click();
    await expect.poll(() => chips().count()).toBe(1);
    await page.getByRole('button', { name: 'Remove lighthouse.md' }).click();
    await expect.poll(() => chips().count()).toBe(0);
    const listed = await api.json<{ attachments: unknown[] }>('GET', `/conversations/${state.conversationId}/attachments`);
    expect(listed.attachments).toEqual([]);
  });

  it('attaches a file staged on the new-conversation page before asking the first question', async () => {
    await page.goto('/chat');
    await page.getByLabel('File to attach').setInputFiles({ name: 'ferry.md', mimeType: 'text/markdown', buffer: Buffer.from('# Ferry\n\nThe Quillhaven ferry carries exactly nineteen bicycles.\n') });
    await chips().filter({ hasText: 'ferry.md' }).getByText('Attached when you send').waitFor();
    expect(await api.json<{ conversations: unknown[] }>('GET', '/conversations').then((r) => r.conversations.length), 'staging creates nothing').toBe(1);
    stack.fake.enqueue({ kind: 'text', text: 'It carries **nineteen** bicycles [1].', chunkDelayMs: 20 });
    await page.getByLabel('Message').fill('How many bicycles does the Quillhaven ferry carry?');
    await page.getByLabel('Message').press('Enter');
    await page.waitForURL((url) => /^\/chat\/[0-9a-f-]{36}$/.test(url.pathname));
    await chips().filter({ hasText: 'ferry.md' }).getByText('Ready').waitFor({ timeout: 30_000 });
    const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
    expect(await answer.getByRole('button', { name: /^\[1\] / }).innerText()).toContain('ferry.md');
    // Asked only once the file could be cited: the model was given its passage.
    expect(JSON.stringify(stack.fake.requests.at(-1)?.body)).toContain('exactly nineteen bicycles');
  });

  it('keeps the first question unsent when its staged file cannot be attached, and says why', async () => {
    await page.goto('/chat');
    const requests = stack.fake.requests.length;
    // A program renamed to .pdf: refused for what it is (415), not for its name.
    await page.getByLabel('File to attach').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([Buffer.from('MZ'), Buffer.alloc(512, 1)]) });
    await page.getByLabel('Message').fill('What do the notes say?');
    await page.getByLabel('Message').press('Enter');
    await page.waitForURL((url) => /^\/chat\/[0-9a-f-]{36}$/.test(url.pathname));
    const alert = page.getByRole('alert').filter({ hasText: 'Not sent' });
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.innerText()).toContain('notes.pdf');
    await chips()
      .filter({ hasText: 'notes.pdf' })
      .getByText(/^Failed/)
      .waitFor();
    expect(await page.getByLabel('Message').inputValue(), 'the question comes back to edit').toBe('What do the notes say?');
    expect(await page.locator('[data-testid="message"]').count(), 'nothing was asked').toBe(0);
    expect(stack.fake.requests.length).toBe(requests);
  });

  it('saw no CSP violation, no dialog and no uncaught error', () => {
    expect(watch.dialogs, 'no alert/confirm/prompt').toEqual([]);
    expect(watch.csp).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
    expect(watch.unexpectedConsoleErrors()).toEqual([]);
  });
});
