/**
 * A team's first day in Chromium, from a fresh DATA_DIR with registration by invitation:
 * the setup link from the server's log → the first administrator, with 2FA → a team
 * workspace → two people invited from the screen → the new one registers and joins through
 * the mailed link on a phone-sized screen, the existing one signs in from the link and joins →
 * five files uploaded at once → an agent on them → a cited answer for the newcomer on the phone →
 * the administrator disables the newcomer, who is refused at once. axe-core on every screen.
 * Throughout: no CSP violation, no uncaught error.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, watchedContext, type OpenBrowser, type Watch } from './browser.js';
import { expectAccessible, expectNoOverflow } from './a11y.js';
import { BrowserApi, firstVisit, linkIn, PASSWORD, signIn, totpCode, stepsInOrder } from './helpers.js';
import { startStack, type Stack } from './stack.js';

const ADMIN = { name: 'Ada Admin', email: 'ada@example.org' };
const NEWCOMER = { name: 'Nia Newcomer', email: 'nia@example.org' };
const EXISTING = { name: 'Sam Existing', email: 'sam@example.org' };
const PHONE = { width: 390, height: 844 };
/** Five documents dropped at once: the answer is in one of them. */
const HANDBOOK = [
  { name: 'travel-policy.md', type: 'text/markdown', text: '# Travel policy\n\nRail tickets bought for business trips are reimbursed. Claim the refund for rail tickets within 30 days of the journey, with the receipt attached.\n' },
  { name: 'holidays.md', type: 'text/markdown', text: '# Holidays\n\nEveryone has 25 days of paid leave a year. Book leave in the HR portal two weeks ahead.\n' },
  { name: 'equipment.txt', type: 'text/plain', text: 'Laptops are replaced every four years. Report a broken screen to the IT desk.\n' },
  { name: 'offices.csv', type: 'text/csv', text: 'office,city,opening hours\nNorth,Leeds,8-18\nSouth,Bristol,9-17\n' },
  { name: 'security.html', type: 'text/html', text: '<html><head><title>Security</title></head><body><h1>Security</h1><p>Lock your screen when you leave your desk.</p></body></html>' },
];

let stack: Stack;
let chromium: OpenBrowser;
let admin: { context: BrowserContext; watch: Watch; page: Page };
const watches: Watch[] = [];
let current: Page | undefined;
let newcomerPage: Page;

stepsInOrder('first-day', () => current);

beforeAll(async () => {
  stack = await startStack('firstday', { REGISTRATION: 'invite', REQUIRE_MFA: 'admins' });
  chromium = await launchChromium();
  const { context, watch } = await watchedContext(chromium.browser, stack.baseUrl);
  admin = { context, watch, page: await context.newPage() };
  watches.push(watch);
});

afterAll(async () => {
  await chromium?.close();
  await stack?.close();
});

async function person(viewport?: typeof PHONE): Promise<Page> {
  const { context, watch } = await watchedContext(chromium.browser, stack.baseUrl, viewport ? { viewport } : {});
  watches.push(watch);
  return (current = await context.newPage());
}

describe('the first day of a team', () => {
  it('shows on the sign-in screen that Bastion is not set up, and logs one setup link', async () => {
    current = admin.page;
    await firstVisit(admin.page, '/sign-in');
    await admin.page.getByText('Bastion is not set up yet').waitFor();
    await expectAccessible(admin.page, 'sign-in, not set up');
    const log = fs.readFileSync(stack.logFile, 'utf8');
    expect(log.match(/Set up Bastion/g)).toHaveLength(1);
  });

  it('creates the first administrator through the link from the log, then 2FA', async () => {
    const line = fs
      .readFileSync(stack.logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('Set up Bastion'))!;
    const link = /(http\S+\/setup#token=bst_setup_[\w-]{43})/.exec(line)?.[1];
    expect(link, line).toBeDefined();
    expect(new URL(link!).origin).toBe(stack.baseUrl);
    const page = admin.page;
    await page.goto(link!);
    await page.getByRole('heading', { name: 'Set up Bastion' }).waitFor();
    expect(page.url(), 'the token is dropped from the address bar').not.toContain('token=');
    await page.getByLabel('Your name').fill(ADMIN.name);
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(PASSWORD);
    const create = page.getByRole('button', { name: 'Create administrator', exact: true });
    await expect.poll(() => create.isEnabled(), { timeout: 10_000 }).toBe(true);
    await screenshot(page, 'setup');
    await expectAccessible(page, 'setup');
    await create.click();

    // REQUIRE_MFA=admins: the app sends the new administrator to 2FA enrolment.
    await page.waitForURL((url) => url.pathname === '/account');
    await page.getByRole('button', { name: 'Set up two-factor authentication', exact: true }).click();
    await page.getByText("Can't scan it?").click();
    const secret = (await page.getByTestId('totp-secret').innerText()).replace(/\s/g, '');
    await page.getByLabel('Code from the app').fill(await totpCode(secret, -1));
    await page.getByRole('button', { name: 'Turn on', exact: true }).click();
    await page.getByRole('button', { name: 'I have stored it', exact: true }).click();
    await page.getByText('On.', { exact: true }).waitFor();
    await expectAccessible(page, 'account with 2FA on');

    // The link is spent, and the server stays set up.
    const again = await fetch(`${stack.baseUrl}/api/v1/auth/setup`, {
      method: 'POST',
      headers: { origin: stack.baseUrl, 'content-type': 'application/json' },
      body: JSON.stringify({ token: new URLSearchParams(new URL(link!).hash.slice(1)).get('token'), email: 'mallory@example.org', name: 'M', password: PASSWORD }),
    });
    expect(again.status).toBe(400);
    expect(((await (await fetch(`${stack.baseUrl}/api/v1/auth/options`)).json()) as { setupRequired: boolean }).setupRequired).toBe(false);
  });

  it('creates a team workspace and invites a new person and an existing one from the screen', async () => {
    // Sam has an account already (joined another workspace through an invitation earlier).
    const api = new BrowserApi(admin.context, stack.baseUrl);
    const lobby = await api.json<{ id: string }>('POST', '/workspaces', { name: 'Lobby' });
    await api.json('POST', `/workspaces/${lobby.id}/invitations`, { email: EXISTING.email, role: 'member' });
    const lobbyToken = new URLSearchParams(new URL(linkIn((await stack.sink.next(EXISTING.email, /invited/i, 10_000)).text)).hash.slice(1)).get('token');
    const registered = await fetch(`${stack.baseUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: { origin: stack.baseUrl, 'content-type': 'application/json' },
      body: JSON.stringify({ email: EXISTING.email, name: EXISTING.name, password: PASSWORD, inviteToken: lobbyToken }),
    });
    expect(registered.status).toBe(202);

    const page = (current = admin.page);
    await page.goto('/workspace');
    await page.getByLabel('New workspace name').fill('Research Team');
    await page.getByRole('button', { name: 'Create workspace', exact: true }).click();
    await page.getByRole('heading', { name: 'Research Team', level: 1 }).waitFor();
    // The new workspace's screen has settled (its invitation list loaded) before typing into it.
    await page.getByText('No open invitations.').waitFor();
    const emailBox = page.getByRole('textbox', { name: 'Email', exact: true });
    for (const invitee of [NEWCOMER, EXISTING]) {
      await emailBox.fill(invitee.email);
      await expect.poll(() => emailBox.inputValue()).toBe(invitee.email);
      await page.getByRole('button', { name: 'Send invitation', exact: true }).click();
      await page.getByText(`Invitation sent to ${invitee.email}.`).waitFor();
      await page.getByTestId('invitation-row').filter({ hasText: invitee.email }).waitFor();
    }
    await screenshot(page, 'invite-people');
    await expectAccessible(page, 'workspace with invitations');
  });

  it('lets the new person register through the mailed link on a phone and land in the team', async () => {
    const mail = await stack.sink.next(NEWCOMER.email, /invited to the Bastion workspace/, 10_000);
    const link = linkIn(mail.text);
    expect(new URL(link).pathname).toBe('/invitations');
    const page = (newcomerPage = await person(PHONE));
    await firstVisit(page, link);
    await page.getByRole('heading', { name: 'Join Research Team' }).waitFor();
    expect(page.url()).not.toContain('token=');
    await expectNoOverflow(page);
    await expectAccessible(page, 'invitation, register (phone)');
    await page.getByLabel('Your name').fill(NEWCOMER.name);
    await page.getByLabel('Password').fill(PASSWORD);
    const create = page.getByRole('button', { name: 'Create account and join', exact: true });
    await expect.poll(() => create.isEnabled(), { timeout: 10_000 }).toBe(true);
    await screenshot(page, 'invitation-register-phone');
    await create.click();
    await page.waitForURL((url) => url.pathname === '/chat');
    await expect
      .poll(() =>
        page
          .locator('#workspace-switcher')
          .inputValue()
          .then(async (id) => page.locator(`#workspace-switcher option[value="${id}"]`).innerText()),
      )
      .toBe('Research Team');
  });

  it('lets the existing person sign in from the mailed link and join', async () => {
    const mail = await stack.sink.next(EXISTING.email, /invited to the Bastion workspace “Research Team/, 10_000);
    const page = await person();
    await firstVisit(page, linkIn(mail.text));
    await page.getByRole('heading', { name: 'Join Research Team' }).waitFor();
    await page.getByRole('link', { name: 'Sign in to join' }).click();
    await signIn(page, EXISTING.email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/invitations');
    await page.getByRole('button', { name: 'Join Research Team', exact: true }).waitFor();
    await expectAccessible(page, 'invitation, signed in');
    await page.getByRole('button', { name: 'Join Research Team', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/chat');
  });

  it('uploads five files at once into a team knowledge base, all of which arrive and become ready', async () => {
    const page = (current = admin.page);
    await page.goto('/knowledge');
    await page.getByRole('heading', { level: 1, name: 'Knowledge' }).waitFor();
    await page.getByLabel('Name').fill('Team handbook');
    await page.getByRole('button', { name: 'Create knowledge base', exact: true }).click();
    await page.waitForURL(/\/knowledge\/[0-9a-f-]{36}$/);
    await page.getByRole('region', { name: 'Upload documents' }).waitFor();
    await page.locator('#document-file').setInputFiles(HANDBOOK.map(({ name, type, text }) => ({ name, mimeType: type, buffer: Buffer.from(text) })));
    for (const { name } of HANDBOOK) {
      const row = page.getByTestId('document-row').filter({ hasText: name });
      await expect.poll(() => row.getAttribute('data-status'), { timeout: 60_000, interval: 250 }).toBe('ready');
    }
    expect(await page.getByTestId('document-row').count()).toBe(HANDBOOK.length);
    await screenshot(page, 'five-uploads');
    await expectAccessible(page, 'knowledge base with five documents');
  });

  it('makes an agent on the team handbook, and the new member gets a cited answer on the phone', async () => {
    const page = (current = admin.page);
    await page.goto('/agents/new');
    await page.getByLabel('Name', { exact: true }).fill('Handbook helper');
    await page.getByRole('checkbox', { name: 'Team handbook' }).check();
    await page.getByRole('button', { name: 'Create agent', exact: true }).click();
    await page.waitForURL(/\/agents\/[0-9a-f-]{36}$/);

    const phone = (current = newcomerPage);
    await phone.goto('/chat');
    await phone.getByLabel('Agent').selectOption({ label: 'Handbook helper' });
    await phone.getByLabel('Message').fill('How many days do I have to claim a refund for rail tickets?');
    await phone.getByLabel('Message').press('Enter');
    await phone.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    const answer = phone.locator('[data-testid="message"][data-role="assistant"]').last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    expect(await answer.getByTestId('message-body').innerText()).toContain('30 days');
    await answer.getByRole('button', { name: /^\[1\] / }).click();
    const dialog = phone.getByTestId('citation-dialog');
    await dialog.getByRole('heading', { name: 'Source 1' }).waitFor();
    expect(await dialog.innerText()).toContain('travel-policy.md');
    await screenshot(phone, 'cited-answer-phone');
    await expectNoOverflow(phone);
    await expectAccessible(phone, 'cited answer (phone)');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  });

  it('shows the administrator both people as members', async () => {
    const page = (current = admin.page);
    await page.goto('/workspace');
    await page.getByRole('heading', { name: 'Research Team', level: 1 }).waitFor();
    for (const invitee of [NEWCOMER, EXISTING]) await page.getByTestId('member-row').filter({ hasText: invitee.email }).waitFor();
    expect(await page.getByTestId('invitation-row').count()).toBe(0);
  });

  it('lets the administrator disable a person, who is refused at once', async () => {
    const page = (current = admin.page);
    await page.goto('/admin');
    await page.getByLabel('Search by email or name').fill(NEWCOMER.email);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('button', { name: `Disable ${NEWCOMER.email}`, exact: true }).click();
    await page.getByRole('button', { name: `Yes, disable ${NEWCOMER.email}`, exact: true }).click();
    await page.getByRole('button', { name: `Enable ${NEWCOMER.email}`, exact: true }).waitFor();
    await screenshot(page, 'admin-users');
    await expectAccessible(page, 'admin users');

    // The open session on the phone ends with the next request, and signing in again is refused with the reason.
    const me = await newcomerPage.context().request.get(`${stack.baseUrl}/api/v1/me`);
    expect(me.status()).toBe(401);
    current = newcomerPage;
    await newcomerPage.goto('/sign-in');
    await signIn(newcomerPage, NEWCOMER.email, PASSWORD);
    await newcomerPage
      .getByRole('alert')
      .filter({ hasText: /disabled/i })
      .waitFor();
    await expectNoOverflow(newcomerPage);
    await expectAccessible(newcomerPage, 'sign-in refused (phone)');
  });

  it('shows the API reference at /api/docs, from the server itself', async () => {
    const page = (current = admin.page);
    await page.goto('/api/docs');
    await page.getByRole('heading', { name: 'API reference', level: 1 }).waitFor();
    await page.getByLabel('Filter by path, method or tag').fill('invitations/preview');
    const operation = page.locator('details.operation').filter({ hasText: '/api/v1/workspaces/invitations/preview' });
    await operation.locator('summary').click();
    await operation.getByText('hasAccount').waitFor();
    expect(await page.locator('details.operation').count()).toBe(1);
    await screenshot(page, 'api-reference');
  });

  it('saw no CSP violation and no uncaught error on any screen', async () => {
    for (const watch of watches) {
      expect(watch.dialogs).toEqual([]);
      expect(watch.csp).toEqual([]);
      expect(watch.pageErrors).toEqual([]);
    }
  });
});
