/**
 * Debian's Chromium driven by playwright-core (no browser download), and a watch on every
 * page of a context: console errors, uncaught page errors, dialogs (alert/confirm/prompt),
 * Content-Security-Policy violations and the requests made, for the suite to assert on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { ARTIFACTS } from './paths.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface OpenBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches Chromium. playwright-core gives every launch a fresh temporary user-data dir
 * (and removes it on close); each context is a separate, empty profile on top of it.
 */
export async function launchChromium(): Promise<OpenBrowser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (never \`npx playwright install\`)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return { browser, close: () => browser.close() };
}

export interface CspViolation {
  page: string;
  directive: string;
  blocked: string;
  source: string;
  line: number;
  sample: string;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

export interface Watch {
  consoleErrors: string[];
  pageErrors: string[];
  dialogs: string[];
  csp: CspViolation[];
  requests: SeenRequest[];
  /** Console errors other than the browser's note of a 4xx API answer (expected: 401 before sign-in, 404 of planned routes). */
  unexpectedConsoleErrors(): string[];
}

/**
 * The listener is added by CDP before any page script and reports through a binding, so the
 * page's CSP does not apply to it and a violation on any document of the context is seen.
 */
const CSP_LISTENER = `
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__bastionCsp?.({ page: location.href, directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample });
  }, true);
`;

const EXPECTED_CONSOLE = /^Failed to load resource: the server responded with a status of 4\d\d/;

export async function watchedContext(browser: Browser, baseURL: string, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; watch: Watch }> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 860 }, ...options });
  const watch: Watch = {
    consoleErrors: [],
    pageErrors: [],
    dialogs: [],
    csp: [],
    requests: [],
    unexpectedConsoleErrors() {
      return this.consoleErrors.filter((text) => !EXPECTED_CONSOLE.test(text));
    },
  };
  await context.exposeBinding('__bastionCsp', (_source, violation: CspViolation) => {
    watch.csp.push(violation);
  });
  await context.addInitScript(CSP_LISTENER);
  const attach = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') watch.consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => watch.pageErrors.push(`${error.name}: ${error.message}`));
    page.on('dialog', (dialog) => {
      watch.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss().catch(() => undefined);
    });
  };
  context.on('page', attach);
  context.on('request', (request) => {
    watch.requests.push({ method: request.method(), url: request.url(), headers: request.headers() });
  });
  return { context, watch };
}

let shot = 0;
/** Saves a full-page screenshot as web/e2e/artifacts/NN-name.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  shot += 1;
  await page.screenshot({ path: path.join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}
