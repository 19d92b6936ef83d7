/** Small steps shared by the e2e files: signing in through the screens, API calls as the browser, mail links. */
import fs from 'node:fs';
import { afterEach, beforeEach, expect, type TestContext } from 'vitest';
import type { APIResponse, BrowserContext, Page } from 'playwright-core';
import { screenshot } from './browser.js';
import { totpAt } from '../../server/src/modules/auth/totp.js';
import type { SmtpSink } from '../../server/test/smtp-sink.js';

/** A passphrase the server's strength check accepts (zxcvbn score ≥ 3, ≥ 15 characters). */
export const PASSWORD = 'quiet lanterns drift over the harbour';

export const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Pre-login routes: no session yet, so no CSRF token (the Origin check applies instead). */
export const PRE_LOGIN = /^\/api\/v1\/(auth\/(login|login\/mfa|register|setup|verify-email|password\/(check|forgot|reset)|not-me)|workspaces\/invitations\/preview|csp-reports)$/;

/** The URL of the first link in a mail (the token travels in its fragment). */
export function linkIn(text: string): string {
  const match = /(https?:\/\/\S+#\S*token=[A-Za-z0-9_-]+\S*)/.exec(text);
  if (!match) throw new Error(`no link with a token in mail:\n${text}`);
  return match[1]!;
}

/**
 * A TOTP code `offset` 30-second steps from now (the server accepts ±1 step and never the same
 * step twice): 2FA is confirmed with the step before now, the sign-in then uses the one after,
 * without waiting. Waits out the last 2 s of a step so the code is still valid when it arrives.
 */
export async function totpCode(secret: string, offset: -1 | 1): Promise<string> {
  const intoStep = Date.now() % 30_000;
  if (intoStep > 28_000) await new Promise((resolve) => setTimeout(resolve, 30_000 - intoStep + 100));
  return totpAt(secret, new Date(Date.now() + offset * 30_000));
}

/**
 * The first page of a fresh browser profile: wait until the service worker has installed and
 * claimed it, so every later step runs under the worker.
 */
export async function firstVisit(page: Page, url: string): Promise<void> {
  await page.goto(url);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // A function, not source text: a string predicate is eval'd in the page, which the CSP forbids.
      // 30 s: the worker precaches the whole app before it claims the page, and a fresh browser
      // on a busy 2-core machine once took over 10 s (CI, 2026-12-07).
      await page.waitForFunction(() => (globalThis as { navigator?: { serviceWorker?: { controller: unknown } } }).navigator?.serviceWorker?.controller != null, undefined, { timeout: 30_000 });
      await page.waitForLoadState('load');
      // Controlled in the document now shown (after the reload, if one happened).
      if (await page.evaluate<boolean>("navigator.serviceWorker.controller != null && document.readyState === 'complete'")) return;
    } catch (error) {
      if (!/context was destroyed|navigation/i.test(String(error))) throw error;
    }
  }
}

/** The sign-in screen: email + password, then (when asked) a TOTP or a recovery code. */
export async function signIn(page: Page, email: string, password: string, second?: { totp: string } | { recovery: string }): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  for (let attempt = 1; ; attempt++) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    if (attempt === 3) break;
    // Once, in CI, the form was drawn again after it had been filled (empty fields, no error, the
    // click refused by the browser's required-field check): type again, as a person would.
    const moved = await Promise.race([
      page
        .waitForURL((url) => url.pathname !== '/sign-in', { timeout: 5_000 })
        .then(
          () => true,
          () => false,
        ),
      page
        .getByRole('alert')
        .first()
        .waitFor({ timeout: 5_000 })
        .then(
          () => true,
          () => false,
        ),
      page
        .getByRole('heading', { name: 'Two-factor authentication' })
        .waitFor({ timeout: 5_000 })
        .then(
          () => true,
          () => false,
        ),
    ]);
    if (
      moved ||
      new URL(page.url()).pathname !== '/sign-in' ||
      (await page
        .getByLabel('Email')
        .inputValue()
        .catch(() => email)) !== ''
    )
      break;
  }
  if (!second) return;
  await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
  if ('recovery' in second) {
    await page.getByRole('button', { name: 'Use a recovery code', exact: true }).click();
    await page.getByLabel('Recovery code').fill(second.recovery);
  } else {
    await page.getByLabel('Authentication code').fill(second.totp);
  }
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
}

/** JSON API calls with the context's session cookie, sent as the web app sends them (Origin + X-CSRF-Token). */
export class BrowserApi {
  private csrf: string | null = null;
  constructor(
    private readonly context: BrowserContext,
    private readonly baseUrl: string,
  ) {}

  async call(method: string, path: string, body?: unknown, options: { csrf?: boolean; workspace?: string } = {}): Promise<APIResponse> {
    const headers: Record<string, string> = { origin: this.baseUrl, accept: 'application/json' };
    if (options.workspace) headers['x-workspace-id'] = options.workspace;
    if (UNSAFE.has(method) && options.csrf !== false) headers['x-csrf-token'] = await this.token();
    return this.context.request.fetch(`${this.baseUrl}/api/v1${path}`, {
      method,
      headers,
      ...(body instanceof FormData ? { multipart: body } : body === undefined ? {} : { data: body }),
    });
  }

  async json<T>(method: string, path: string, body?: unknown, options: { workspace?: string } = {}): Promise<T> {
    const response = await this.call(method, path, body, options);
    expect(response.ok(), `${method} ${path}: ${response.status()} ${await response.text()}`).toBe(true);
    return (await response.json()) as T;
  }

  private async token(): Promise<string> {
    if (!this.csrf) {
      const response = await this.context.request.get(`${this.baseUrl}/api/v1/auth/csrf`);
      expect(response.status(), 'GET /auth/csrf').toBe(200);
      this.csrf = ((await response.json()) as { token: string }).token;
    }
    return this.csrf;
  }
}

/** Registers and verifies an account through the API (for files that test something else than sign-up). */
export async function apiAccount(baseUrl: string, sink: SmtpSink, email: string): Promise<void> {
  const origin = { origin: baseUrl, 'content-type': 'application/json' };
  const register = await fetch(`${baseUrl}/api/v1/auth/register`, { method: 'POST', headers: origin, body: JSON.stringify({ name: 'E2E Person', email, password: PASSWORD }) });
  expect(register.status).toBe(202);
  const token = /token=([A-Za-z0-9_-]+)/.exec((await sink.next(email, /verify/i)).text)![1]!;
  const verify = await fetch(`${baseUrl}/api/v1/auth/verify-email`, { method: 'POST', headers: origin, body: JSON.stringify({ token }) });
  expect(verify.status).toBe(200);
}

/** The first administrator, made through the one-time setup link the server logged (POST /auth/setup). */
export async function createFirstAdmin(baseUrl: string, logFile: string, person: { name: string; email: string }): Promise<void> {
  // The server writes its log asynchronously: the line may reach the file a moment after the server answers.
  const setupToken = () => {
    const line = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('Set up Bastion'));
    return /#token=(bst_setup_[\w-]{43})/.exec(line ?? '')?.[1];
  };
  // A loop, not expect.poll: this runs in beforeAll hooks too.
  const deadline = Date.now() + 10_000;
  let token = setupToken();
  while (!token && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    token = setupToken();
  }
  expect(token, 'the setup link in the log').toBeDefined();
  const setup = await fetch(`${baseUrl}/api/v1/auth/setup`, {
    method: 'POST',
    headers: { origin: baseUrl, 'content-type': 'application/json' },
    body: JSON.stringify({ token, email: person.email, name: person.name, password: PASSWORD }),
  });
  expect(setup.status, await setup.text()).toBeLessThan(300);
}

/**
 * For a file whose steps build on each other: after the first failure the rest are skipped,
 * not failed again, and the failing step leaves a screenshot and the page's text of the page
 * `current()` returns, followed by `details()` (e.g. the console errors seen).
 */
export function stepsInOrder(name: string, current: () => Page | undefined, details: () => string = () => ''): void {
  let broken = false;
  beforeEach((ctx: TestContext) => {
    if (broken) ctx.skip();
  });
  afterEach(async (ctx: TestContext) => {
    if (ctx.task.result?.state !== 'fail') return;
    broken = true;
    const page = current();
    if (!page) return;
    await screenshot(page, `FAILED-${name}-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => undefined);
    const text = await page
      .locator('body')
      .innerText()
      .catch(() => '?');
    console.error(`e2e: failed at ${page.url()}; page text:\n${text}${details()}`);
  });
}
