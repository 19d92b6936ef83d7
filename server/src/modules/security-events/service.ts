/**
 * The one security-event stream: each event is redacted, written to `security_events`,
 * logged as one structured line (`securityEvent: {…}`), then handed to the detector.
 * Recording never throws: a monitoring fault must not turn a request into an error.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { Store } from '../../platform/store/store.js';
import { passwordPrefix } from './password-prefix.js';
import { cleanText, redactDetails } from './redact.js';
import { insertSecurityEvent } from './repo.js';
import { EVENT_CATALOG, type DetectionSignals, type RecordedSecurityEvent, type SecurityEventInput } from './types.js';

/**
 * Writes one event without the stream (no log line, no detector): for callers built
 * without a SecurityEvents instance (the CLI and tests of one module).
 */
export async function recordSecurityEvent(db: Db, event: SecurityEventInput, now: Date): Promise<void> {
  await insertSecurityEvent(db, {
    id: randomUUID(),
    type: event.type,
    severity: EVENT_CATALOG[event.type].severity,
    userId: event.userId ?? null,
    apiKeyId: event.apiKeyId ?? null,
    ip: event.ip ?? null,
    userAgent: event.userAgent ?? null,
    requestId: event.requestId ?? null,
    details: redactDetails(event.type, event.details),
    at: now,
  });
}

export type SecurityEventListener = (event: RecordedSecurityEvent, signals: DetectionSignals) => Promise<void>;

/** What other modules need to raise events. */
export interface SecurityEventSink {
  record(event: SecurityEventInput): Promise<void>;
  /** At most one event per `sampleKey` per minute (attack floods must not write a row per request). */
  recordSampled(event: SecurityEventInput, sampleKey: string): Promise<void>;
  /** The truncated keyed password prefix for the spraying rule (see password-prefix.ts). */
  passwordPrefix(password: string): Promise<string | undefined>;
}

export interface SecurityEventsDeps {
  db: Db;
  store: Store;
  clock: Clock;
  logger: Logger;
}

const SAMPLE_MS = 60_000;

export class SecurityEvents implements SecurityEventSink {
  private readonly listeners: SecurityEventListener[] = [];

  constructor(private readonly deps: SecurityEventsDeps) {}

  /** Adds a listener (the detector); it runs after the event is stored. */
  subscribe(listener: SecurityEventListener): void {
    this.listeners.push(listener);
  }

  async record(input: SecurityEventInput): Promise<void> {
    const event = this.complete(input);
    try {
      await insertSecurityEvent(this.deps.db, event);
    } catch (error) {
      this.deps.logger.error({ err: error, securityEventType: event.type }, 'security event not stored');
    }
    const level = event.severity === 'critical' ? 'error' : event.severity === 'warning' ? 'warn' : 'info';
    this.deps.logger[level]({ securityEvent: { ...event, at: event.at.toISOString() } }, 'security event');
    for (const listener of this.listeners) {
      try {
        await listener(event, input.signals ?? {});
      } catch (error) {
        this.deps.logger.error({ err: error, securityEventType: event.type }, 'security event listener failed');
      }
    }
  }

  async recordSampled(input: SecurityEventInput, sampleKey: string): Promise<void> {
    try {
      const bucket = Math.floor(this.deps.clock.now().getTime() / SAMPLE_MS);
      const digest = createHash('sha256').update(sampleKey).digest('base64url').slice(0, 22);
      const first = await this.deps.store.set(`mon:sample:${input.type}:${digest}:${bucket}`, '1', { ifAbsent: true, ttlMs: SAMPLE_MS * 2 });
      if (!first) return;
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'security event sampling unavailable');
      return;
    }
    await this.record(input);
  }

  async passwordPrefix(password: string): Promise<string | undefined> {
    try {
      return await passwordPrefix(this.deps.store, password);
    } catch {
      return undefined; // the spraying rule goes without this attempt
    }
  }

  /** Applies the redaction allow-list; who/where come with the event (origin.ts). */
  private complete(input: SecurityEventInput): RecordedSecurityEvent {
    return {
      id: randomUUID(),
      type: input.type,
      severity: EVENT_CATALOG[input.type].severity,
      userId: input.userId ?? null,
      apiKeyId: input.apiKeyId ?? null,
      ip: cleanOrNull(input.ip ?? null, 64),
      userAgent: cleanOrNull(input.userAgent ?? null, 300),
      requestId: cleanOrNull(input.requestId ?? null, 128),
      details: redactDetails(input.type, input.details),
      at: this.deps.clock.now(),
    };
  }
}

function cleanOrNull(value: string | null, max: number): string | null {
  return value === null ? null : cleanText(value, max);
}
