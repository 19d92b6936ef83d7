/**
 * XSS through the real browser: the fake model streams an answer full of injection
 * payloads, which the chat renders with the app's Markdown pipeline (web/src/lib/markdown.ts,
 * DOMPurify) while streaming and again from history. Nothing may run (no dialog, no
 * marker set), no active element or handler may reach the DOM, no `javascript:` URL may
 * survive, links open safely, and no CSP violation is needed to stop any of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { apiAccount, BrowserApi, firstVisit, PASSWORD, signIn } from './helpers.js';
import { startStack, type Stack } from './stack.js';
import { TEST_RUN } from '../../server/test/harness.js';

const EMAIL = `xss-${Date.now().toString(36)}@example.org`;

/** Each payload tries to run `alert(…)` or set `window.__pwned`. */
const PAYLOADS = [
  'Rendering check.',
  "<script>alert('script');window.__pwned='script'</script>",
  "<img src=x onerror=\"alert('img');window.__pwned='img'\">",
  '<a href="javascript:alert(\'a-html\')">html javascript link</a>',
  "[markdown javascript link](javascript:alert('md'))",
  "[mixed case javascript link](JaVaScRiPt:alert('md2'))",
  "[encoded javascript link](&#106;avascript:alert('md3'))",
  '<svg onload="alert(\'svg\');window.__pwned=\'svg\'"><circle r="10"/></svg>',
  "<math><mtext><table><mglyph><style><img src=x onerror=\"alert('mxss');window.__pwned='mxss'\">",
  '<div onclick="alert(\'div\')" onmouseover="window.__pwned=\'hover\'">hover and click me</div>',
  '<iframe src="javascript:alert(\'iframe\')"></iframe>',
  '<object data="javascript:alert(\'object\')"></object><embed src="javascript:alert(\'embed\')">',
  '<a href="https://example.org/docs" target="_self">external html link</a>',
  '[external markdown link](https://example.org/guide)',
  '```html\n<script>alert("in code")</script>\n```',
  // The code-block path: hostile info strings (the language shown in the block's header) and highlighted HTML.
  "```\"><img src=x onerror=\"alert('lang');window.__pwned='lang'\">\nplain code\n```",
  '```javascript" onmouseover="window.__pwned=\'hover-lang\'\nlet hovered = true;\n```',
  "```xml\n<svg onload=\"alert('hl')\"><script>window.__pwned='hl'</script></svg>\n```",
].join('\n\n');

let stack: Stack;
let chromium: OpenBrowser;
let context: BrowserContext;
let watch: Watch;
let page: Page;
let conversationId = '';

beforeAll(async () => {
  stack = await startStack('xss');
  chromium = await launchChromium();
  ({ context, watch } = await watchedContext(chromium.browser, stack.baseUrl));
  page = await context.newPage();
  await apiAccount(stack.baseUrl, stack.sink, EMAIL);
  await firstVisit(page, '/sign-in?next=/account');
  await signIn(page, EMAIL, PASSWORD);
  await page.waitForURL((url) => url.pathname === '/account');
  const api = new BrowserApi(context, stack.baseUrl);
  const connection = await api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake LLM', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-e2e-fake-provider-key', defaultModel: 'fake-model-1' });
  const agent = await api.json<{ id: string }>('POST', '/agents', { name: 'Echo', providerConnectionId: connection.id, model: 'fake-model-1' });
  conversationId = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
});

afterAll(async () => {
  await context?.close();
  await chromium?.close();
  await stack?.close();
});

/** Everything that would mean a payload got through, in the rendered answer and the whole page. */
async function assertInert(body: Locator): Promise<void> {
  // Try the handlers a person could trigger.
  await body
    .getByText('hover and click me')
    .hover()
    .catch(() => undefined);
  await body
    .getByText('hover and click me')
    .click()
    .catch(() => undefined);
  for (const pre of await body.locator('.code-block pre').all()) await pre.hover().catch(() => undefined);
  await page.waitForTimeout(300);

  expect(watch.dialogs, 'no alert/confirm/prompt').toEqual([]);
  expect(await page.evaluate<unknown>('window.__pwned ?? null'), 'no payload ran').toBeNull();
  expect(await body.locator('script, iframe, object, embed, svg, math, style, form, base, meta, link').count(), 'no active or structural element in the answer').toBe(0);
  // Page functions are given as source text: the e2e program is typed for Node, not the DOM.
  const handlers = await page.evaluate<string[]>(`[...document.querySelectorAll('*')].flatMap((element) => [...element.attributes].filter((a) => /^on/i.test(a.name)).map((a) => '<' + element.localName + ' ' + a.name + '>'))`);
  expect(handlers, 'no inline event handler anywhere').toEqual([]);
  const urls = await page.evaluate<string[]>(String.raw`[...document.querySelectorAll('[href], [src], [action], [formaction], [data]')].flatMap((element) =>
    ['href', 'src', 'action', 'formaction', 'data'].map((name) => element.getAttribute(name) ?? '').filter((value) => /^(javascript|vbscript|data:text\/html)/i.test(value.replace(/[\u0000-\u0020]/g, ''))))`);
  expect(urls, 'no javascript: URL').toEqual([]);
  const links: { href: string | null; rel: string }[] = [];
  for (const anchor of await body.locator('a[href]').all()) links.push({ href: await anchor.getAttribute('href'), rel: (await anchor.getAttribute('rel')) ?? '' });
  // Raw HTML anchors may be dropped or escaped by the pipeline; the Markdown link must stay usable.
  expect(links.map((l) => l.href)).toContain('https://example.org/guide');
  for (const link of links) {
    expect(link.rel.split(/\s+/), `rel of ${link.href}`).toEqual(expect.arrayContaining(['noopener', 'noreferrer']));
  }
  // The code block shows the script as text.
  expect(await body.locator('pre code').first().innerText()).toContain('<script>alert("in code")</script>');
  // Code blocks: highlighted with highlighter classes only, hostile languages shown as plain code.
  expect(await body.locator('.code-block').count()).toBe(4);
  expect(await body.locator('.code-lang').allInnerTexts()).toEqual(['html', 'code', 'code', 'xml']);
  await expect.poll(() => body.locator('pre span').count(), { message: 'highlighted (the highlighter loads on demand)' }).toBeGreaterThan(0);
  const spanClasses = await body.locator('pre span').evaluateAll((spans) => spans.flatMap((span) => [...span.attributes].map((a) => `${a.name}=${a.value}`)));
  expect(spanClasses.filter((attribute) => !/^class=hljs-[\w-]+( hljs-[\w-]+)*$/.test(attribute))).toEqual([]);
  expect(await body.locator('pre code').nth(3).innerText()).toContain(`<svg onload="alert('hl')"><script>window.__pwned='hl'</script></svg>`);
  expect(watch.csp, 'nothing needed the CSP to be stopped').toEqual([]);
  expect(watch.pageErrors).toEqual([]);
}

describe(`XSS payloads in a streamed answer (${TEST_RUN.databaseUrl ? 'PostgreSQL' : 'embedded'} backend)`, () => {
  it('renders them inert while streaming and when it completes', async () => {
    stack.fake.enqueue({ kind: 'text', text: PAYLOADS, chunkDelayMs: 10 });
    await page.goto(`/chat/${conversationId}`);
    await page.getByLabel('Message').fill('Show me the test strings.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    const body = answer.getByTestId('message-body');
    expect(await body.innerText()).toContain('Rendering check.');
    await screenshot(page, 'xss-streamed');
    await assertInert(body);
  });

  it('renders them inert from history (after a reload)', async () => {
    await page.reload();
    const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
    const body = answer.getByTestId('message-body');
    await body.getByText('Rendering check.').waitFor();
    await assertInert(body);
    expect(watch.unexpectedConsoleErrors()).toEqual([]);
  });
});
