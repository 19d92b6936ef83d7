/**
 * Readiness of the master keys: every master key that wraps a data key in the database
 * must be configured here with the right material, or every encrypted read under it fails.
 *
 * Asked of the database at most once per `ttlMs` (one index scan of data_keys and one
 * unwrap per master key; concurrent probes share a run), not only at start: another copy
 * rotating and re-wrapping to a key this copy lacks makes it unready, and re-wrapping away
 * from a missing key (or shredding the last data keys under it) makes it ready again,
 * without a restart. Each change of the problem is logged once, naming the key ids.
 */
import type { Logger } from 'pino';
import type { Encryptor, MasterKeyReport } from '../../platform/crypto/envelope.js';
import type { CheckState } from './service.js';

/** Probes every 10 s (Kubernetes' default) then cost one query per 15 s and see a change within 15 s. */
export const CRYPTO_CHECK_TTL_MS = 15_000;

export class CryptoCheck {
  private last: { at: number; state: CheckState } | undefined;
  private running: Promise<CheckState> | undefined;
  private reported = '';
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly deps: { encryptor: Encryptor; logger: Logger; ttlMs?: number; now?: () => number }) {
    this.ttlMs = deps.ttlMs ?? CRYPTO_CHECK_TTL_MS;
    this.now = deps.now ?? Date.now;
  }

  /**
   * `failed` while a master key that wraps data keys is missing or wrong; cached for `ttlMs`.
   * A run slower than `waitMs` answers the last known state and updates it when done.
   */
  async state(waitMs = Infinity): Promise<CheckState> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return this.last.state;
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    if (waitMs === Infinity) return this.running;
    let timer: NodeJS.Timeout | undefined;
    const previous = new Promise<CheckState>((resolve) => {
      timer = setTimeout(() => resolve(this.last?.state ?? 'ok'), waitMs);
    });
    try {
      return await Promise.race([this.running, previous]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(): Promise<CheckState> {
    let report: MasterKeyReport;
    try {
      report = await this.deps.encryptor.checkMasterKeys();
    } catch {
      // The database check reports the outage; keep the last answer and ask again next time.
      return this.last?.state ?? 'ok';
    }
    const state: CheckState = report.missing.length + report.mismatched.length > 0 ? 'failed' : 'ok';
    this.last = { at: this.now(), state };
    this.log(report);
    return state;
  }

  private log({ missing, mismatched }: MasterKeyReport): void {
    const key = JSON.stringify([missing, mismatched]);
    if (key === this.reported) return;
    const before = this.reported;
    this.reported = key;
    const { logger } = this.deps;
    if (missing.length > 0) {
      logger.error({ securityEvent: 'crypto.master_key_missing', masterKeyIds: missing }, `data keys are wrapped by master keys that are not configured (${missing.join(', ')}): records under them cannot be read; readiness fails`);
    }
    if (mismatched.length > 0) {
      logger.error({ securityEvent: 'crypto.master_key_mismatch', masterKeyIds: mismatched }, `master keys do not unwrap their data keys (${mismatched.join(', ')}): configured with other key material; readiness fails`);
    }
    if (missing.length + mismatched.length === 0 && before !== '') logger.info('every master key that wraps data keys is configured again');
  }
}
