/**
 * Accessibility and layout checks for any screen: axe-core (from npm, run inside Chromium)
 * with its default rules (WCAG 2.x A/AA and best practices), and no horizontal scrolling.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * axe-core's violations on the page as it is now (or only within the elements matching
 * `within`, a CSS selector). The script is evaluated through the DevTools protocol, so the
 * page's CSP (which forbids inline scripts) does not block it and nothing is added to the
 * page's own code.
 */
export async function axeViolations(page: Page, within?: string): Promise<AxeViolation[]> {
  const context = within === undefined ? 'document' : JSON.stringify({ include: [[within]] });
  return page.evaluate<AxeViolation[]>(`(() => {
    ${AXE_SOURCE}
    return axe.run(${context}, { resultTypes: ['violations'] }).then((result) =>
      result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' — ' + n.failureSummary) })),
    );
  })()`);
}

/** Fails with the rule, the help text and the offending elements when axe finds anything. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const violations = await axeViolations(page);
  expect(violations, `${screen} (${page.url()}): ${JSON.stringify(violations, null, 2)}`).toEqual([]);
}

/** How much wider than the viewport the page is (0: no horizontal scrolling), with the widest elements to blame. */
export async function overflow(page: Page): Promise<{ excess: number; culprits: string[] }> {
  return page.evaluate<{ excess: number; culprits: string[] }>(`(() => {
    const width = window.innerWidth;
    const excess = document.documentElement.scrollWidth - width;
    const culprits = excess <= 0 ? [] : [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > width + 0.5)
      .slice(0, 6)
      .map((el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') + ' right=' + Math.round(el.getBoundingClientRect().right));
    return { excess, culprits };
  })()`);
}

/** No horizontal scrolling at the page's width. */
export async function expectNoOverflow(page: Page): Promise<void> {
  const { excess, culprits } = await overflow(page);
  expect(excess, `${page.url()} is ${excess}px wider than the viewport: ${culprits.join(', ')}`).toBeLessThanOrEqual(0);
}
