/**
 * Markdown answers in Chromium: the fake model streams real Markdown (fenced code in three
 * languages, a table, nested and task lists) and the chat shows it rendered — code highlighted
 * by the lazily loaded highlighter (finished blocks while streaming, code still being written
 * plain), a Copy button that puts the code as written on the clipboard (mouse and keyboard,
 * announced), a scrolling table, lists — while streaming and from history, on a desktop and a
 * 390×844 phone without sideways scrolling, without a CSP violation. An answer without code
 * never loads the highlighter.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { axeViolations, expectNoOverflow } from './a11y.js';
import { apiAccount, BrowserApi, firstVisit, PASSWORD, signIn, stepsInOrder } from './helpers.js';
import { WEB_DIR } from './paths.js';
import { startStack, type Stack } from './stack.js';
import { TEST_RUN } from '../../server/test/harness.js';

const EMAIL = `markdown-${Date.now().toString(36)}@example.org`;
const PHONE = { width: 390, height: 844 };

const PYTHON = ['def greet(name: str) -> str:', '    """Say hello <b>&</b> mean it."""', '    message = f"Hello, {name}!"', '    return message  # done'].join('\n');
const TYPESCRIPT = [
  'export interface Answer { id: string; text: string }',
  `export const veryLongLine: string = '${'a long line that must scroll inside its block and never widen the page '.repeat(3).trim()}';`,
  'export function count(answers: Answer[]): number {',
  '  return answers.filter((a) => a.text.length > 0).length;',
  '}',
].join('\n');
const BASH = ['#!/usr/bin/env bash', 'set -euo pipefail', 'for file in *.md; do', '  echo "checking $file"', 'done'].join('\n');

const TABLE = [
  '| Setting | Default | What it does |',
  '|:--|--:|---|',
  '| `PORT` | 3000 | Where the API listens for requests from browsers and clients |',
  '| `LOG_LEVEL` | info | How much the server writes to its log, from fatal to trace |',
].join('\n');
const LISTS = ['1. Install the tools', '   - Node.js 20', '   - PostgreSQL', '     - with the `vector` extension', '2. Configure the service', '   - [x] copy the example file', '   - [ ] set the master keys'].join('\n');

/** An answer with code: prose, three fenced blocks, a table and nested lists. */
const WITH_CODE = ['Here is **how to set it up**.', '', LISTS, '', TABLE, '', '```python', PYTHON, '```', '', 'And the types:', '', '```ts', TYPESCRIPT, '```', '', '```bash', BASH, '```', '', 'That is all.'].join('\n');

/** An answer without fenced code (inline `code` only): the highlighter must not load for it. */
const WITHOUT_CODE = ['A plain answer with `inline code`, **bold** text,', '', LISTS, '', TABLE, '', 'and nothing to highlight.'].join('\n');

let stack: Stack;
let chromium: OpenBrowser;
let context: BrowserContext;
let watch: Watch;
let page: Page;
let api: BrowserApi;
/** The highlighter's chunk in this build, e.g. /_app/immutable/chunks/AbC123.js. */
let highlighterChunk = '';
const conversations: { plain?: string; code?: string } = {};

stepsInOrder(
  'markdown',
  () => page,
  () => `\nconsole errors: ${JSON.stringify(watch.consoleErrors)}\npage errors: ${JSON.stringify(watch.pageErrors)}\nCSP: ${JSON.stringify(watch.csp)}`,
);

/**
 * The chunk Vite built $lib/highlight into: the one JS file of web/build with highlight.js's
 * API in it (found by content, not through .svelte-kit's manifest, which a concurrent build of
 * the tree may be rewriting). The server is asked for it once it runs.
 */
function findHighlighterChunk(): string {
  const dir = path.join(WEB_DIR, 'build', '_app', 'immutable', 'chunks');
  const files = fs.readdirSync(dir).filter((name) => name.endsWith('.js') && /registerAliases/.test(fs.readFileSync(path.join(dir, name), 'utf8')));
  expect(files, 'one chunk holds the highlighter').toHaveLength(1);
  return `/_app/immutable/chunks/${files[0]}`;
}

beforeAll(async () => {
  highlighterChunk = findHighlighterChunk();
  stack = await startStack('markdown');
  expect((await fetch(`${stack.baseUrl}${highlighterChunk}`)).status, `${highlighterChunk} is served`).toBe(200);
  chromium = await launchChromium();
  ({ context, watch } = await watchedContext(chromium.browser, stack.baseUrl, { permissions: ['clipboard-read', 'clipboard-write'] }));
  page = await context.newPage();
  await apiAccount(stack.baseUrl, stack.sink, EMAIL);
  await firstVisit(page, '/sign-in?next=/account');
  await signIn(page, EMAIL, PASSWORD);
  await page.waitForURL((url) => url.pathname === '/account');
  api = new BrowserApi(context, stack.baseUrl);
  const connection = await api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake LLM', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-e2e-fake-provider-key', defaultModel: 'fake-model-1' });
  const agent = await api.json<{ id: string }>('POST', '/agents', { name: 'Writer', providerConnectionId: connection.id, model: 'fake-model-1' });
  conversations.plain = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
  conversations.code = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
});

afterAll(async () => {
  await context?.close();
  await chromium?.close();
  await stack?.close();
});

const lastAnswer = () => page.locator('[data-testid="message"][data-role="assistant"]').last();

/** The paths of the scripts this document fetched (network or service worker), as the page's resource timing lists them. */
async function scriptsLoaded(): Promise<string[]> {
  return page.evaluate<string[]>(`performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.endsWith('.js'))`);
}

/** From now on, keeps every text the element shows (read with textsSeen). */
async function recordTexts(element: Locator): Promise<void> {
  await element.evaluate((node) => {
    const seen: string[] = [];
    (node as unknown as { seenTexts: string[] }).seenTexts = seen;
    // (The e2e program is typed for Node: the DOM's MutationObserver is looked up on the page's global.)
    const Observer = (globalThis as unknown as { MutationObserver: new (callback: () => void) => { observe(target: unknown, options: object): void } }).MutationObserver;
    new Observer(() => seen.push(node.textContent ?? '')).observe(node, { childList: true, characterData: true, subtree: true });
  });
}

async function textsSeen(element: Locator): Promise<string[]> {
  return element.evaluate((node) => (node as unknown as { seenTexts: string[] }).seenTexts);
}

async function ask(conversationId: string, answer: string, chunkDelayMs: number): Promise<Locator> {
  stack.fake.enqueue({ kind: 'text', text: answer, chunkDelayMs });
  await page.goto(`/chat/${conversationId}`);
  await page.getByLabel('Message').fill('How do I set it up?');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  return lastAnswer();
}

/** The table and the nested lists of LISTS / TABLE, rendered. */
async function expectTableAndLists(body: Locator): Promise<void> {
  const table = body.locator('.table-scroll > table');
  expect(await table.locator('th').allInnerTexts()).toEqual(['Setting', 'Default', 'What it does']);
  expect(await table.locator('tbody tr').count()).toBe(2);
  expect(await table.locator('tbody tr').first().locator('td').nth(1).getAttribute('align')).toBe('right');
  const outer = body.locator('ol').first();
  expect(await outer.locator(':scope > li').count()).toBe(2);
  expect(await outer.locator(':scope > li > ul > li').count()).toBe(4);
  expect((await outer.locator(':scope > li > ul > li > ul > li').innerText()).trim()).toBe('with the vector extension');
  expect(await outer.locator('code').first().innerText()).toBe('vector');
  expect(await outer.locator('li.task-done .task-box.done').count()).toBe(1);
  expect(await outer.locator('li.task-open .task-box').count()).toBe(1);
  expect(await body.locator('input').count(), 'task boxes are drawn, not form controls').toBe(0);
}

describe(`Markdown answers (${TEST_RUN.databaseUrl ? 'PostgreSQL' : 'embedded'} backend)`, () => {
  it('renders an answer without code (table, nested lists) and never loads the highlighter for it', async () => {
    const requested: string[] = [];
    page.on('request', (request) => requested.push(new URL(request.url()).pathname));
    const answer = await ask(conversations.plain!, WITHOUT_CODE, 5);
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    const body = answer.getByTestId('message-body');
    await body.locator('.table-scroll table').waitFor();
    await expectTableAndLists(body);
    expect(await body.locator('pre, .code-block').count()).toBe(0);
    // And from history, in a fresh document.
    await page.reload();
    await lastAnswer().getByTestId('message-body').locator('.table-scroll table').waitFor();
    await page.waitForTimeout(500); // time for a stray import to start
    const scripts = await scriptsLoaded();
    expect(scripts.length, 'resource timing sees the app scripts').toBeGreaterThan(3);
    expect(scripts).not.toContain(highlighterChunk);
    expect(requested, 'no request for the highlighter chunk').not.toContain(highlighterChunk);
    page.removeAllListeners('request');
  });

  it('streams code plain while it is written and highlights finished blocks', async () => {
    const answer = await ask(conversations.code!, WITH_CODE, 25);
    const body = answer.getByTestId('message-body');
    // While streaming, a code block still being written is plain text …
    await expect
      .poll(
        () =>
          answer.evaluate((article) => {
            const codes = [...article.querySelectorAll('pre code')];
            const last = codes.at(-1);
            return article.getAttribute('data-status') === 'streaming' && last !== undefined && (last.textContent ?? '').length > 20 && last.querySelectorAll('span').length === 0;
          }),
        { timeout: 20_000, interval: 20 },
      )
      .toBe(true);
    // … and a finished block is highlighted before the answer is complete.
    await expect.poll(() => answer.evaluate((article) => article.getAttribute('data-status') === 'streaming' && article.querySelector('pre code.language-python span[class^="hljs-"]') !== null), { timeout: 20_000, interval: 20 }).toBe(true);
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 30_000 }).toBe('complete');
    await body.locator('code.language-bash span[class^="hljs-"]').first().waitFor();
    expect(await scriptsLoaded(), 'the highlighter was loaded for this answer').toContain(highlighterChunk);
    await screenshot(page, 'markdown-desktop');
  });

  it('shows the three languages highlighted with the highlighter classes only, the code text intact', async () => {
    const body = lastAnswer().getByTestId('message-body');
    const blocks = body.locator('.code-block');
    expect(await blocks.count()).toBe(3);
    expect(await body.locator('.code-block .code-lang').allInnerTexts()).toEqual(['python', 'ts', 'bash']);
    for (const [language, code] of [
      ['python', PYTHON],
      ['ts', TYPESCRIPT],
      ['bash', BASH],
    ] as const) {
      const element = body.locator(`pre > code.language-${language}`);
      expect(await element.evaluate((e) => e.textContent), language).toBe(`${code}\n`);
      const classes = await element.evaluate((e) => [...e.querySelectorAll('span')].flatMap((s) => [...s.classList]));
      expect(classes.length, `${language} is highlighted`).toBeGreaterThan(3);
      expect(
        classes.filter((name) => !name.startsWith('hljs-')),
        'only highlighter classes',
      ).toEqual([]);
      expect(await element.evaluate((e) => [...e.querySelectorAll('*')].some((child) => child.tagName !== 'SPAN' || child.hasAttribute('style')))).toBe(false);
    }
    expect(await body.locator('code.language-python .hljs-keyword').first().innerText()).toBe('def');
    expect(await body.locator('code.language-ts .hljs-keyword').first().innerText()).toBe('export');
    // Highlighting colours come from the stylesheet (the CSP forbids inline styles).
    const keyword = body.locator('code.language-python .hljs-keyword').first();
    // A function, not source text (the program is typed for Node: no DOM globals).
    const color = (element: Locator) => element.evaluate((e) => (globalThis as unknown as { getComputedStyle(el: unknown): { color: string } }).getComputedStyle(e).color);
    expect(await color(keyword)).not.toBe(await color(body.locator('code.language-python')));
    await expectTableAndLists(body);
  });

  it('copies the code as written with the Copy button, by mouse and by keyboard, and says so', async () => {
    const body = lastAnswer().getByTestId('message-body');
    const status = body.getByTestId('copy-status');
    expect(await status.getAttribute('role')).toBe('status');
    const copyPython = body.getByRole('group', { name: 'python code' }).getByRole('button', { name: 'Copy', exact: true });
    // The feedback lasts 2 s: record it as it happens, so a slow machine cannot miss it.
    await recordTexts(copyPython);
    await recordTexts(status);
    await copyPython.click();
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(PYTHON);
    await expect.poll(() => textsSeen(copyPython)).toContain('Copied');
    await expect.poll(() => textsSeen(status)).toContain('Code copied to the clipboard.');
    await expect.poll(() => copyPython.innerText(), { timeout: 10_000 }).toBe('Copy');

    const copyTs = body.getByRole('group', { name: 'ts code' }).getByRole('button', { name: 'Copy', exact: true });
    expect(await copyTs.evaluate((b) => (b as unknown as { tabIndex: number }).tabIndex), 'in the tab order').toBe(0);
    await recordTexts(copyTs);
    await copyTs.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(TYPESCRIPT);
    await expect.poll(() => textsSeen(copyTs)).toContain('Copied');
    await body.getByRole('group', { name: 'bash code' }).getByRole('button', { name: 'Copy', exact: true }).focus();
    await page.keyboard.press('Space');
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(BASH);
  });

  it('renders the same from history, accessible in light and dark', async () => {
    await page.reload();
    const body = lastAnswer().getByTestId('message-body');
    await body.locator('code.language-ts span[class^="hljs-"]').first().waitFor();
    expect(await body.locator('.code-block').count()).toBe(3);
    await expectTableAndLists(body);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      const violations = await axeViolations(page, '[data-testid="message"][data-role="assistant"]');
      expect(violations, `${colorScheme}: ${JSON.stringify(violations, null, 2)}`).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('fits a 390×844 phone: long code lines and the table scroll inside their blocks', async () => {
    await page.setViewportSize(PHONE);
    await page.reload();
    const body = lastAnswer().getByTestId('message-body');
    await body.locator('code.language-ts span[class^="hljs-"]').first().waitFor();
    await expectNoOverflow(page);
    const pre = body.locator('.code-block pre:has(code.language-ts)');
    const sizes = await pre.evaluate((e) => ({ scroll: e.scrollWidth, client: e.clientWidth, right: e.getBoundingClientRect().right }));
    expect(sizes.scroll, 'the long line scrolls inside the block').toBeGreaterThan(sizes.client);
    expect(sizes.right).toBeLessThanOrEqual(PHONE.width);
    const table = await body.locator('.table-scroll').evaluate((e) => ({ right: e.getBoundingClientRect().right }));
    expect(table.right).toBeLessThanOrEqual(PHONE.width);
    await screenshot(page, 'markdown-phone');
  });

  it('saw no CSP violation, uncaught error or dialog', () => {
    expect(watch.csp).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
    expect(watch.unexpectedConsoleErrors()).toEqual([]);
    expect(watch.dialogs).toEqual([]);
  });
});
