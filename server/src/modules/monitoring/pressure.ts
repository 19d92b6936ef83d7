/**
 * Resource pressure, sampled every MONITOR_SAMPLE_SECONDS: event-loop lag (p99 since the
 * last sample), V8 heap use against its limit, and queries waiting for a PostgreSQL
 * connection. Each reading above its threshold raises (or bumps) a `resource_pressure`
 * alert keyed by the resource and this process.
 */
import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { AlertService } from './alerts.js';

export interface PressureReading {
  eventLoopLagMs: number;
  heapUsedRatio: number;
  dbPoolWaiting: number | null;
}

export interface PressureThresholds {
  /** 0: off (for each) */
  eventLoopLagMs: number;
  heapUsedRatio: number;
  dbPoolWaiting: number;
}

export class PressureSampler {
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly instance = `${os.hostname()}:${process.pid}`;

  constructor(
    private readonly alerts: AlertService,
    private readonly thresholds: PressureThresholds,
    private readonly poolStats: () => { waiting: number } | undefined,
  ) {}

  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
    this.timer = setInterval(() => void this.check(this.read()), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.histogram?.disable();
    this.timer = undefined;
  }

  read(): PressureReading {
    const lag = this.histogram ? this.histogram.percentile(99) / 1e6 : 0;
    this.histogram?.reset();
    const heap = v8.getHeapStatistics();
    return { eventLoopLagMs: Math.round(lag), heapUsedRatio: heap.used_heap_size / heap.heap_size_limit, dbPoolWaiting: this.poolStats()?.waiting ?? null };
  }

  /** Raises an alert for each reading above its threshold. */
  async check(reading: PressureReading): Promise<void> {
    const t = this.thresholds;
    if (t.eventLoopLagMs > 0 && reading.eventLoopLagMs >= t.eventLoopLagMs) {
      await this.raise('event_loop', { lagMs: reading.eventLoopLagMs, threshold: t.eventLoopLagMs });
    }
    if (t.heapUsedRatio > 0 && reading.heapUsedRatio >= t.heapUsedRatio) {
      await this.raise('heap', { usedRatio: Math.round(reading.heapUsedRatio * 100) / 100, threshold: t.heapUsedRatio });
    }
    if (t.dbPoolWaiting > 0 && reading.dbPoolWaiting !== null && reading.dbPoolWaiting >= t.dbPoolWaiting) {
      await this.raise('db_pool', { waiting: reading.dbPoolWaiting, threshold: t.dbPoolWaiting });
    }
  }

  private async raise(resource: string, details: Record<string, number>): Promise<void> {
    await this.alerts.raise({ rule: 'resource_pressure', key: `${resource}:${this.instance}`, severity: 'warning', details: { resource, ...details } });
  }
}
