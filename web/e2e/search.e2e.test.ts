/**
 * Finding conversations by the words in their messages, in Chromium: a word only in an
 * answer is found under "In messages" with its snippet emphasised, the result opens the
 * conversation at that message, a snippet holding markup stays text, an archived
 * conversation is flagged, the arrows and Tab move through the results, Escape clears the
 * box, and on a 390×844 phone the results fit in the drawer, which a result closes.
 * Throughout: no CSP violation, no dialog, no uncaught error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { expectAccessible, expectNoOverflow } from './a11y.js';
import { BrowserApi, createFirstAdmin, firstVisit, PASSWORD, signIn, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const PERSON = { name: 'Sam Seeker', email: 'sam@example.org' };

let stack: Stack;
let chromium: OpenBrowser;
let context: BrowserContext;
let watch: Watch;
let page: Page;
let api: BrowserApi;
const ids: { birds?: string; budget?: string; hostile?: string; answer?: string } = {};

stepsInOrder(
  'search',
  () => page,
  () => `\nconsole errors: ${JSON.stringify(watch.consoleErrors)}\npage errors: ${JSON.stringify(watch.pageErrors)}\nCSP: ${JSON.stringify(watch.csp)}`,
);

beforeAll(async () => {
  stack = await startStack('search');
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

const box = () => page.getByLabel('Search conversations');
const results = () => page.getByTestId('search-results');
const hits = () => results().getByTestId('search-hit');
const focusedHref = () => page.evaluate<string | null>("document.activeElement?.getAttribute('href') ?? null");

/** Types a query and waits for the server's results (messages are indexed a moment after they are written: type again until found). */
async function searchFor(query: string, expected: number): Promise<void> {
  await expect
    .poll(
      async () => {
        await box().fill('');
        await box().fill(query);
        await results().waitFor();
        await expect.poll(() => results().getAttribute('aria-busy'), { timeout: 5_000 }).toBe('false');
        return hits().count();
      },
      { timeout: 15_000, interval: 200 },
    )
    .toBe(expected);
}

describe('finding conversations', () => {
  it('signs in with three conversations', async () => {
    await firstVisit(page, '/sign-in');
    await signIn(page, PERSON.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    const connection = await api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake provider', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-e2e-search-key-4c1e' });
    const agent = await api.json<{ id: string }>('POST', '/agents', { name: 'Helper', providerConnectionId: connection.id, model: 'fake-model-1' });
    stack.fake.enqueue(
      { kind: 'text', text: 'Count the birds at dawn. The **pelican budget** covers binoculars and a boat.' },
      { kind: 'text', text: 'Spending is on track; the walrus fund is untouched.' },
      { kind: 'text', text: 'Noted.' },
    );
    ids.birds = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
    const sent = await api.json<{ answer: { id: string } }>('POST', `/conversations/${ids.birds}/messages`, { content: 'Plan the spring survey' });
    ids.answer = sent.answer.id;
    ids.budget = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
    await api.json('POST', `/conversations/${ids.budget}/messages`, { content: 'Quarterly review' });
    ids.hostile = (await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id })).id;
    await api.json('POST', `/conversations/${ids.hostile}/messages`, { content: 'heron <img src=x onerror=window.__xss=1> sighting' });
    await page.goto('/chat');
  });

  it('finds a word that is only in an answer, emphasised in its snippet, and opens the conversation at that message', async () => {
    await searchFor('pelican', 1);
    const hit = hits().first();
    expect(await hit.locator('.title').innerText()).toBe('Plan the spring survey');
    expect(await hit.locator('mark').allInnerTexts()).toEqual(['pelican']);
    // The answer's Markdown is shown as text, not as its markers.
    expect(await hit.locator('.snippet').innerText()).toBe('Count the birds at dawn. The pelican budget covers binoculars and a boat.');
    expect(await hit.getAttribute('href')).toBe(`/chat/${ids.birds}#message-${ids.answer}`);
    // The title filter finds nothing: the word is in the answer only.
    expect(await page.getByTestId('conversation-link').count()).toBe(0);
    await expectAccessible(page, 'search results');
    await screenshot(page, 'search-results');

    await hit.click();
    await page.waitForURL((url) => url.pathname === `/chat/${ids.birds}` && url.hash === `#message-${ids.answer}`);
    const message = page.locator(`#message-${ids.answer}`);
    await expect.poll(() => message.getAttribute('class')).toContain('found');
    const onScreen = async () => {
      const [b, viewport] = [await message.boundingBox(), page.viewportSize()];
      return b !== null && viewport !== null && b.y >= 0 && b.y + Math.min(b.height, viewport.height) <= viewport.height;
    };
    await expect.poll(onScreen).toBe(true);
    expect(await message.innerText()).toContain('pelican budget');
  });

  it('ranks, moves through the results by keyboard, keeps markup in a snippet as text, flags the archived, and clears with Escape', async () => {
    await searchFor('budget walrus', 2);
    // Both words: the second conversation first.
    expect(await hits().first().locator('.title').innerText()).toBe('Quarterly review');
    const [first, second] = [await hits().nth(0).getAttribute('href'), await hits().nth(1).getAttribute('href')];

    // No title matches: ArrowDown from the box goes to the first result, the arrows move on, up from the top returns.
    await box().press('ArrowDown');
    await expect.poll(focusedHref).toBe(first);
    await page.keyboard.press('ArrowDown');
    await expect.poll(focusedHref).toBe(second);
    await page.keyboard.press('ArrowDown'); // on the last: stays
    expect(await focusedHref()).toBe(second);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.id')).toBe('conversation-filter');
    // Tab reaches them as ordinary links.
    await page.keyboard.press('Tab');
    await expect.poll(focusedHref).toBe(first);
    await box().focus();

    await searchFor('heron', 1);
    const snippet = hits().first().locator('.snippet');
    expect(await snippet.innerText()).toContain('<img src=x onerror=window.__xss=1>');
    expect(await snippet.locator('img').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();

    // Archived conversations are searched too, and say so.
    await api.json('PATCH', `/conversations/${ids.hostile}`, { archived: true });
    await searchFor('heron', 1);
    await hits().first().getByText('Archived', { exact: true }).waitFor();
    expect(await page.evaluate('window.__xss')).toBeUndefined();

    await searchFor('zeppelin', 0);
    await results().getByText('No message matches.').waitFor();

    await box().press('Escape');
    expect(await box().inputValue()).toBe('');
    await results().waitFor({ state: 'detached' });
    expect(watch.dialogs).toEqual([]);
  });

  it('on a phone: the results fit in the drawer, and a result closes it', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`/chat/${ids.budget}`);
    await page.getByRole('button', { name: 'Conversations', exact: true }).click();
    await searchFor('pelican', 1);
    await expectNoOverflow(page);
    const hitBox = (await hits().first().boundingBox())!;
    expect(hitBox.x + hitBox.width).toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-search-results');
    await hits().first().click();
    await page.waitForURL((url) => url.pathname === `/chat/${ids.birds}`);
    const drawer = () => page.getByRole('navigation', { name: 'Conversations' });
    await expect.poll(() => drawer().isVisible()).toBe(false);

    // A result in the conversation already open only changes the hash: the drawer closes all the same.
    await page.goto(`/chat/${ids.birds}`);
    await page.getByRole('button', { name: 'Conversations', exact: true }).click();
    await searchFor('pelican', 1);
    await hits().first().click();
    await page.waitForURL((url) => url.hash === `#message-${ids.answer}`);
    await expect.poll(() => drawer().isVisible()).toBe(false);
    await expect.poll(() => page.locator(`#message-${ids.answer}`).getAttribute('class')).toContain('found');
    expect(watch.csp).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  });
});
