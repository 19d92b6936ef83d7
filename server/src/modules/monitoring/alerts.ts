/**
 * Alerts: a rule firing for a key. The same rule + key within the dedup window updates
 * the open alert (count, last seen) instead of raising another; a new alert is logged
 * always and delivered to each configured sink, at most ALERT_SINK_MAX_PER_HOUR per sink
 * (an attack that trips many keys must not flood a mailbox).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { Store } from '../../platform/store/store.js';
import { cleanText } from '../security-events/redact.js';
import { acknowledgeAlert, bumpAlert, findOpenAlert, insertAlert, listAlerts, type AlertCursor } from './alerts-repo.js';
import type { AlertNotice, AlertSink } from './sinks.js';

export type AlertSeverity = 'warning' | 'critical';

export interface RaisedAlert {
  rule: string;
  key: string;
  severity: AlertSeverity;
  /** Figures that explain the firing: counts, thresholds, ids. Never secrets. */
  details: Record<string, string | number | boolean>;
}

export interface AlertDeps {
  db: Db;
  store: Store;
  clock: Clock;
  logger: Logger;
  sinks: AlertSink[];
  dedupMs: number;
  sinkMaxPerHour: number;
}

export class AlertService {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: AlertDeps) {}

  /** Records the firing; returns the alert's id and whether it is new. Never throws. */
  async raise(input: RaisedAlert): Promise<{ id: string; created: boolean } | null> {
    const now = this.deps.clock.now();
    const key = cleanText(input.key, 200);
    try {
      const open = await findOpenAlert(this.deps.db, input.rule, key, new Date(now.getTime() - this.deps.dedupMs));
      if (open) {
        await bumpAlert(this.deps.db, open.id, now, input.details);
        this.deps.logger.warn({ alert: { id: open.id, rule: input.rule, key, count: open.count + 1 } }, 'security alert repeated');
        return { id: open.id, created: false };
      }
      const id = randomUUID();
      await insertAlert(this.deps.db, { id, rule: input.rule, key, severity: input.severity, at: now, details: input.details });
      const notice: AlertNotice = { id, rule: input.rule, key, severity: input.severity, firstSeenAt: now.toISOString(), lastSeenAt: now.toISOString(), count: 1, details: input.details };
      this.deps.logger.error({ alert: notice }, 'security alert');
      for (const sink of this.deps.sinks) this.track(this.deliver(sink, notice));
      return { id, created: true };
    } catch (error) {
      this.deps.logger.error({ err: error, rule: input.rule }, 'security alert not recorded');
      return null;
    }
  }

  list(filter: { status: 'open' | 'acknowledged' | 'all'; rule?: string | undefined; before?: AlertCursor | undefined; limit: number }) {
    return listAlerts(this.deps.db, filter);
  }

  acknowledge(id: string, adminId: string): Promise<boolean> {
    return acknowledgeAlert(this.deps.db, id, adminId, this.deps.clock.now());
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async deliver(sink: AlertSink, notice: AlertNotice): Promise<void> {
    const budget = await this.deps.store.consumeRate(`mon:sink:${sink.name}`, this.deps.sinkMaxPerHour, 3_600_000).catch(() => null);
    if (budget && !budget.allowed) {
      this.deps.logger.warn({ sink: sink.name, alertId: notice.id }, 'alert not delivered: sink rate limit reached');
      return;
    }
    try {
      await sink.deliver(notice);
    } catch (error) {
      this.deps.logger.error({ err: error, sink: sink.name, alertId: notice.id }, 'alert delivery failed');
    }
  }

  private track(delivery: Promise<void>): void {
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }
}
