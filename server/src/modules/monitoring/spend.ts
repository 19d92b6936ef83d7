/**
 * Provider spend per workspace against its own baseline: tokens are counted per hour in the
 * store (shared by every API copy); when the current hour passes both a floor
 * (MONITOR_SPEND_MIN_TOKENS) and MONITOR_SPEND_FACTOR × the workspace's mean over the 24
 * hours before it, a `provider_spend` alert is raised once per hour. A leaked key or a
 * runaway agent shows up here before the monthly budget (workspaces/usage.ts) stops it.
 * A workspace first seen less than 24 hours ago has no baseline yet and is not judged
 * (its monthly budget still applies).
 */
import type { Clock } from '../../platform/clock.js';
import type { Store } from '../../platform/store/store.js';
import type { AlertService } from './alerts.js';

const HOUR_MS = 3_600_000;
const BASELINE_HOURS = 24;

export interface SpendThresholds {
  /** 0 turns the rule off. */
  minTokens: number;
  factor: number;
}

export class SpendWatch {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly alerts: AlertService,
    private readonly thresholds: SpendThresholds,
  ) {}

  /** Counts tokens a workspace's provider calls used; never throws (monitoring must not fail a chat). */
  async observe(workspaceId: string, tokens: number): Promise<void> {
    if (this.thresholds.minTokens <= 0 || tokens <= 0) return;
    try {
      const now = this.clock.now().getTime();
      const hour = Math.floor(now / HOUR_MS);
      const sinceKey = `mon:spend:since:${workspaceId}`;
      const since = Number((await this.store.get(sinceKey)) ?? NaN);
      if (Number.isNaN(since)) await this.store.set(sinceKey, String(now), { ifAbsent: true, ttlMs: 30 * 24 * HOUR_MS });
      const current = (await this.store.increment(this.key(workspaceId, hour), { ttlMs: (BASELINE_HOURS + 2) * HOUR_MS, by: tokens })).value;
      // Cheap for ordinary traffic: the baseline is read only once the floor is passed.
      if (current < this.thresholds.minTokens || Number.isNaN(since) || now - since < BASELINE_HOURS * HOUR_MS) return;
      const previous = await Promise.all(Array.from({ length: BASELINE_HOURS }, (_, i) => this.store.get(this.key(workspaceId, hour - 1 - i))));
      const baseline = previous.reduce((sum, value) => sum + Number(value ?? 0), 0) / BASELINE_HOURS;
      if (current < this.thresholds.factor * baseline) return;
      const first = await this.store.set(`mon:spend:fired:${workspaceId}:${hour}`, '1', { ifAbsent: true, ttlMs: 2 * HOUR_MS });
      if (!first) return;
      await this.alerts.raise({
        rule: 'provider_spend',
        key: `workspace:${workspaceId}`,
        severity: 'warning',
        details: { workspaceId, tokensThisHour: current, baselinePerHour: Math.round(baseline), factor: this.thresholds.factor },
      });
    } catch {
      // The store being down is reported by the health checks; spend watching resumes with it.
    }
  }

  private key(workspaceId: string, hour: number): string {
    return `mon:spend:${workspaceId}:${hour}`;
  }
}
