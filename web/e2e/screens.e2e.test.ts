/**
 * Every screen of the web app, signed out and signed in as an administrator with a filled
 * workspace, on a desktop and on a 390×844 phone: axe-core finds no violation and nothing
 * scrolls sideways. Also the phone shell: navigation behind a menu, conversations in a drawer,
 * the messages given most of the height.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { axeViolations, overflow } from './a11y.js';
import { BrowserApi, createFirstAdmin, firstVisit, PASSWORD, signIn } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const ADMIN = { name: 'Avery Administrator', email: 'avery@example.org' };
const VIEWPORTS = { desktop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } } as const;

let stack: Stack;
let chromium: OpenBrowser;
const watches: Watch[] = [];
const seeded: { agentId?: string; baseId?: string; conversationId?: string } = {};

async function newPage(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }> {
  const { context, watch } = await watchedContext(chromium.browser, stack.baseUrl, { viewport });
  watches.push(watch);
  return { context, page: await context.newPage() };
}

/** Every screen is checked before the test fails, so one run lists all that is wrong. */
async function check(page: Page, path: string, problems: string[]): Promise<void> {
  const wide = await overflow(page);
  if (wide.excess > 0) problems.push(`${path}: ${wide.excess}px wider than the viewport (${wide.culprits.join(', ')})`);
  for (const v of await axeViolations(page)) problems.push(`${path}: axe ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`);
}

/** Opens a screen and waits until its main heading is shown and its data has loaded. */
async function open(page: Page, path: string, heading: RegExp | string): Promise<void> {
  await page.goto(path);
  await page.getByRole('heading', { level: 1, name: heading }).first().waitFor();
  // A function, not source text: a string predicate is eval'd in the page, which the CSP forbids.
  await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('[aria-busy="true"]').length === 0, undefined, { timeout: 10_000 });
  await page.waitForTimeout(150);
}

beforeAll(async () => {
  stack = await startStack('screens');
  chromium = await launchChromium();
  await createFirstAdmin(stack.baseUrl, stack.logFile, ADMIN);
});

afterAll(async () => {
  await chromium?.close();
  await stack?.close();
});

const SIGNED_OUT: [string, RegExp | string][] = [
  ['/sign-in', 'Sign in'],
  ['/sign-up', 'Create an account'],
  ['/forgot-password', /password/i],
  ['/reset-password', /password/i],
  ['/verify-email', /email/i],
  ['/setup', /set up|already/i],
  ['/invitations', /invitation/i],
];

const signedIn = (): [string, RegExp | string][] => [
  ['/chat', /.+/],
  [`/chat/${seeded.conversationId}`, /.+/],
  ['/agents', 'Agents'],
  [`/agents/${seeded.agentId}`, /.+/],
  ['/agents/new', /agent/i],
  ['/knowledge', 'Knowledge'],
  [`/knowledge/${seeded.baseId}`, /.+/],
  ['/workspace', /.+/],
  ['/account', 'Account'],
  ['/admin', 'Administration'],
  ['/privacy', /privacy/i],
  ['/exports', /export/i],
  ['/invitations', /invitation/i],
  ['/api/docs', 'API reference'],
];

describe.each(Object.entries(VIEWPORTS))('every screen on a %s', (name, viewport) => {
  it('signed out: accessible, nothing scrolls sideways', async () => {
    const { context, page } = await newPage(viewport);
    await firstVisit(page, '/sign-in');
    const problems: string[] = [];
    for (const [path, heading] of SIGNED_OUT) {
      await open(page, path, heading);
      await check(page, path, problems);
    }
    expect(problems, problems.join('\n')).toEqual([]);
    await context.close();
  });

  it('signed in as an administrator: accessible, nothing scrolls sideways', async () => {
    const { context, page } = await newPage(viewport);
    await firstVisit(page, '/sign-in');
    await signIn(page, ADMIN.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    if (!seeded.conversationId) await seed(context);
    const problems: string[] = [];
    for (const [path, heading] of signedIn()) {
      await open(page, path, heading);
      await check(page, path, problems);
      if (name === 'phone') await screenshot(page, `phone${path.replace(/\W+/g, '-').slice(0, 30)}`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
    await context.close();
  });
});

/** A provider connection to the fake LLM, an agent with two versions, a knowledge base with a document, a conversation with an answer. */
async function seed(context: BrowserContext): Promise<void> {
  const api = new BrowserApi(context, stack.baseUrl);
  const connection = await api.json<{ id: string }>('POST', '/provider-connections', { name: 'Fake provider', kind: 'openai', baseUrl: `${stack.fake.url}/v1`, apiKey: 'sk-screens-provider-key-3c1d' });
  const base = await api.json<{ id: string }>('POST', '/knowledge-bases', { name: 'Handbook', description: 'How we work' });
  const form = new FormData();
  form.append('file', new Blob(['# Handbook\n\nRail tickets for business trips are reimbursed within 30 days.\n'], { type: 'text/markdown' }), 'handbook.md');
  const document = await api.call('POST', `/knowledge-bases/${base.id}/documents`, form);
  expect(document.status(), await document.text()).toBe(202);
  const agent = await api.json<{ id: string }>('POST', '/agents', { name: 'Helper', providerConnectionId: connection.id, model: 'fake-model-1', knowledgeBaseIds: [base.id] });
  await api.json('PATCH', `/agents/${agent.id}`, { systemPrompt: 'You answer from the handbook.' });
  const conversation = await api.json<{ id: string }>('POST', '/conversations', { agentId: agent.id });
  await api.json('POST', `/conversations/${conversation.id}/messages`, { content: 'How long do I have to claim rail tickets?' });
  Object.assign(seeded, { agentId: agent.id, baseId: base.id, conversationId: conversation.id });
}

describe('keyboard use', () => {
  it('moves focus to the error after a failed sign-in, and the skip link to the content', async () => {
    const { context, page } = await newPage(VIEWPORTS.desktop);
    await firstVisit(page, '/sign-in');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByLabel('Password').press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    await expect.poll(() => page.evaluate<boolean>("document.activeElement?.getAttribute('role') === 'alert'")).toBe(true);

    await signIn(page, ADMIN.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    await page.goto('/agents');
    await page.getByRole('heading', { level: 1, name: 'Agents' }).waitFor();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    expect(await page.evaluate<string | undefined>('document.activeElement?.textContent'), 'the first Tab reaches the skip link').toBe('Skip to content');
    expect(await skip.isVisible()).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.id')).toBe('main');
    await context.close();
  });
});

describe('the phone shell', () => {
  it('puts navigation behind a menu and conversations in a drawer, and gives messages the height', async () => {
    const { context, page } = await newPage(VIEWPORTS.phone);
    await firstVisit(page, '/sign-in');
    await signIn(page, ADMIN.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    await open(page, `/chat/${seeded.conversationId}`, /.+/);
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Knowledge' }).isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Menu', exact: true }).click();
    await nav.getByRole('link', { name: 'Knowledge' }).waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => nav.getByRole('link', { name: 'Knowledge' }).isVisible()).toBe(false);

    const list = page.getByRole('navigation', { name: 'Conversations' });
    expect(await list.isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Conversations', exact: true }).click();
    await list.waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => list.isVisible()).toBe(false);

    // Above the messages only the top bar and the title; the composer below takes a small part.
    await page.evaluate('window.scrollTo(0, 0)');
    const messages = (await page.getByTestId('messages').boundingBox())!;
    expect(messages.y, 'the messages start near the top').toBeLessThan(844 * 0.3);
    const composer = (await page.locator('form.composer').boundingBox())!;
    expect(composer.height, 'the composer leaves the messages most of the height').toBeLessThan(844 * 0.25);
    await screenshot(page, 'phone-conversation');
    await context.close();
  });

  it('saw no CSP violation, no dialog and no uncaught error', () => {
    for (const watch of watches) {
      expect(watch.dialogs).toEqual([]);
      expect(watch.csp).toEqual([]);
      expect(watch.pageErrors).toEqual([]);
    }
  });
});
