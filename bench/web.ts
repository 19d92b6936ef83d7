/**
 * Web app load in real headless Chromium (Debian's, through playwright-core) against the
 * production build served by a real `bastion serve` on 127.0.0.1 (embedded backends):
 * the sign-in page and the chat page (signed in), cold (fresh profile: no HTTP cache, no
 * service worker) and warm (same profile, reloaded: HTTP cache + service worker), BENCH_RUNS
 * runs each (default 5), median and p95. Baseline in the same run: `about:blank` and
 * /robots.txt (a static file through the same server).
 *
 * Measured in the page (an init script, before any app code):
 *  - LCP: the last `largest-contentful-paint` entry (PerformanceObserver, buffered);
 *  - TTI (approximation): the end of the last long task (> 50 ms, `longtask` entries) or
 *    DOMContentLoaded, whichever is later, once the page has been quiet (no long task,
 *    no request in flight) for 500 ms — the "quiet window" idea of Lighthouse's TTI without
 *    its network heuristics;
 *  - JS transferred: the sum of `transferSize` of script resources (0 when served from
 *    the HTTP cache or the service worker), plus the decoded size for reference.
 *
 *   npm run bench:web        (writes bench/results/web-chromium.md)
 */
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildIfStale } from '../web/e2e/build.js';
import { launchChromium } from '../web/e2e/browser.js';
import { apiAccount, firstVisit, PASSWORD, signIn } from '../web/e2e/helpers.js';
import { startStack } from '../web/e2e/stack.js';
import { writeResult } from './lib/paths.js';
import { percentile as pct } from './lib/stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const PROBE = `
  window.__bench = { lcp: 0, longTaskEnd: 0, longTasks: 0 };
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__bench.lcp = e.renderTime || e.loadTime || e.startTime; }).observe({ type: 'largest-contentful-paint', buffered: true });
  new PerformanceObserver((list) => { for (const e of list.getEntries()) { window.__bench.longTasks++; window.__bench.longTaskEnd = Math.max(window.__bench.longTaskEnd, e.startTime + e.duration); } }).observe({ type: 'longtask', buffered: true });
`;

interface Sample {
  tti: number;
  lcp: number;
  dcl: number;
  jsTransferred: number;
  jsDecoded: number;
}

async function measure(page: Page, url: string, ready: (page: Page) => Promise<void>): Promise<Sample> {
  await page.goto(url, { waitUntil: 'load' });
  for (let attempt = 0; ; attempt++) {
    try {
      return await settle(page, ready);
    } catch (error) {
      // A fresh profile: the app reloads once when its service worker first takes control
      // (web/src/lib/shell/UpdatePrompt.svelte); measure the page a person ends up with.
      if (attempt >= 2 || !/context was destroyed|navigation/i.test(String(error))) throw error;
      await page.waitForLoadState('load');
    }
  }
}

async function settle(page: Page, ready: (page: Page) => Promise<void>): Promise<Sample> {
  await ready(page);
  // Quiet window: 500 ms without a new long task.
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const end = await page.evaluate<number>('window.__bench ? window.__bench.longTaskEnd : 0');
    if (end === last) break;
    last = end;
    await page.waitForTimeout(500);
  }
  return page.evaluate<Sample>(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const b = window.__bench || { lcp: 0, longTaskEnd: 0 };
    const scripts = performance.getEntriesByType('resource').filter((r) => r.initiatorType === 'script' || r.initiatorType === 'link' && r.name.endsWith('.js') || r.name.endsWith('.js'));
    return {
      dcl: nav ? nav.domContentLoadedEventEnd : 0,
      tti: Math.max(nav ? nav.domContentLoadedEventEnd : 0, b.longTaskEnd),
      lcp: b.lcp,
      jsTransferred: scripts.reduce((s, r) => s + r.transferSize, 0),
      jsDecoded: scripts.reduce((s, r) => s + r.decodedBodySize, 0),
    };
  })()`);
}

async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 860 } });
  await context.addInitScript(PROBE);
  return context;
}

if (process.env.E2E_BUILD !== 'skip') buildIfStale();
const stack = await startStack('bench-web', { RATE_LIMIT_SCALE: '1000' });
const chromium = await launchChromium();
const rows: string[] = [];
try {
  const email = `bench-web-${Date.now().toString(36)}@example.org`;
  await apiAccount(stack.baseUrl, stack.sink, email);
  const signInReady = (page: Page) => page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  // The chat screen's shell and heading (a new account has no agent yet, so no composer).
  const chatReady = (page: Page) => page.locator('main h1').first().waitFor();
  const signInSession = async (context: BrowserContext) => {
    const page = await context.newPage();
    await firstVisit(page, '/sign-in?next=/chat');
    await signIn(page, email, PASSWORD);
    await page.waitForURL((url) => url.pathname === '/chat');
    await page.close();
  };

  const scenarios: { name: string; url: string; ready: (page: Page) => Promise<void>; signedIn: boolean }[] = [
    { name: 'baseline: about:blank', url: 'about:blank', ready: async () => undefined, signedIn: false },
    { name: 'baseline: /robots.txt (static file, same server)', url: '/robots.txt', ready: async () => undefined, signedIn: false },
    { name: 'sign-in', url: '/sign-in', ready: signInReady, signedIn: false },
    { name: 'chat (signed in)', url: '/chat', ready: chatReady, signedIn: true },
  ];
  for (const scenario of scenarios) {
    for (const mode of ['cold', 'warm'] as const) {
      const samples: Sample[] = [];
      // warm: one profile, loaded once first (installs the service worker, fills the cache).
      let shared: BrowserContext | undefined;
      if (mode === 'warm') {
        shared = await newContext(chromium.browser, stack.baseUrl);
        if (scenario.signedIn) await signInSession(shared);
        const first = await shared.newPage();
        await first.goto(scenario.url, { waitUntil: 'load' });
        await scenario.ready(first);
        await first.waitForTimeout(1_000); // service worker install/precache
        await first.close();
      }
      for (let run = 0; run < RUNS; run++) {
        const context = shared ?? (await newContext(chromium.browser, stack.baseUrl));
        if (!shared && scenario.signedIn) await signInSession(context); // its cache fills, the chat's chunks are not loaded yet
        const page = await context.newPage();
        samples.push(await measure(page, scenario.url, scenario.ready));
        await page.close();
        if (!shared) await context.close();
      }
      await shared?.close();
      const col = (key: keyof Sample, scale = 1, digits = 0) =>
        `${(
          pct(
            samples.map((s) => s[key]),
            50,
          ) / scale
        ).toFixed(digits)} / ${(
          pct(
            samples.map((s) => s[key]),
            95,
          ) / scale
        ).toFixed(digits)}`;
      rows.push(`| ${scenario.name} | ${mode} | ${col('tti')} | ${col('lcp')} | ${col('dcl')} | ${col('jsTransferred', 1024, 1)} | ${col('jsDecoded', 1024, 1)} |`);
      console.log(rows.at(-1));
    }
  }
} finally {
  await chromium.close();
  await stack.close();
}

const report = `# Web app load in headless Chromium

${new Date().toISOString().slice(0, 10)}, \`npm run bench:web\`: Chromium ${'(Debian, /usr/bin/chromium)'}, production build served by \`bastion serve\` on 127.0.0.1 (embedded backends), ${RUNS} runs per row, median / p95. 2-core machine shared with other work: compare rows of the same run, not absolute numbers.

Cold: a fresh browser profile per run (no HTTP cache, no service worker; for the chat the profile signs in first through the sign-in screen, which caches the shared chunks — what a person's first chat load looks like). Warm: one profile, the page loaded once first (service worker installed, HTTP cache filled), then reloaded ${RUNS} times.

TTI (approximation): max(DOMContentLoaded, end of the last long task > 50 ms) after a 500 ms window with no new long task. LCP: last \`largest-contentful-paint\` entry. JS: \`transferSize\` (bytes on the wire; 0 from cache or service worker) and decoded size of script resources.

| page | cache | TTI ms | LCP ms | DOMContentLoaded ms | JS transferred KB | JS decoded KB |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
const out = writeResult('web-chromium.md', report);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
