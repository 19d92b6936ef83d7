/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ use only metrics that
 * GET /metrics exports: renaming a metric without updating them fails here.
 */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildTestApp, type TestApp } from '../../../test/harness.js';
import { familyNames } from './scrape.js';

const DEPLOY = new URL('../../../../deploy/', import.meta.url);
const TOKEN = randomBytes(32).toString('hex');
/** Series Prometheus makes itself for every target. */
const SYNTHETIC = new Set(['up']);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

let families: Set<string>;
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN } });
  families = familyNames((await t.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).body);
});
afterAll(async () => {
  await t.close();
});

/** Metric names in PromQL: every `name{…}` selector, plus any token of our prefixes. */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const [, name] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)) names.add(name!);
  for (const [name] of expr.matchAll(/\b(?:bastion|nodejs|process)_[a-z0-9_]+/g)) names.add(name);
  return [...names];
}

/** The family a series name belongs to (`x_bucket` → `x` for histograms). */
function family(name: string): string {
  const base = name.replace(/_(bucket|count|sum)$/, '');
  return base !== name && families.has(base) ? base : name;
}

function unknownMetrics(exprs: string[]): string[] {
  return exprs.flatMap(metricNames).filter((name) => !SYNTHETIC.has(name) && !families.has(family(name)));
}

describe('deploy/grafana/bastion-dashboard.json', () => {
  const dashboard = JSON.parse(fs.readFileSync(new URL('grafana/bastion-dashboard.json', DEPLOY), 'utf8')) as {
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => target.expr));

  it('queries only metrics that /metrics exports', () => {
    expect(exprs.length).toBeGreaterThan(10);
    expect(unknownMetrics(exprs)).toEqual([]);
  });

  it('charts every Bastion metric', () => {
    const used = new Set(exprs.flatMap(metricNames).map(family));
    expect([...families].filter((f) => f.startsWith('bastion_') && !used.has(f))).toEqual([]);
  });
});

describe('deploy/prometheus/bastion-alerts.yml', () => {
  const rules = (parse(fs.readFileSync(new URL('prometheus/bastion-alerts.yml', DEPLOY), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

  it('parses as rule groups, each alert with a severity and a summary', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['BastionInstanceDown', 'BastionHighErrorRatio', 'BastionHighLatencyP95', 'BastionAuthFailureSpike', 'BastionEventLoopLag', 'BastionQueueBacklog', 'BastionProviderErrors']),
    );
    for (const rule of rules) {
      expect(rule.expr, rule.alert).toMatch(/\S/);
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toMatch(/\S/);
      if (rule.for !== undefined) expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it('uses only metrics that /metrics exports', () => {
    expect(unknownMetrics(rules.map((r) => r.expr))).toEqual([]);
  });

  it('catches a renamed metric (the check itself works)', () => {
    expect(unknownMetrics(['rate(bastion_http_requests_seconds_count{job="bastion"}[5m])', 'nodejs_eventloop_lag_p99'])).toEqual(['bastion_http_requests_seconds_count', 'nodejs_eventloop_lag_p99']);
  });
});
