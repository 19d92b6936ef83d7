/**
 * Detection rules on the security-event stream. Each rule counts in a sliding window in
 * the store (shared by every API copy), fires once per window per key when it crosses its
 * threshold, raises an alert and applies the response configured for it, if any.
 */
import type { Logger } from 'pino';
import { networkOf } from '../auth/suspicious.js';
import type { DetectionSignals, RecordedSecurityEvent } from '../security-events/types.js';
import type { AlertService, AlertSeverity } from './alerts.js';
import type { ResponseTarget } from './responses.js';
import type { SlidingWindows } from './windows.js';

export type RuleName = 'credential_stuffing' | 'password_spraying' | 'brute_force' | 'refresh_token_reuse' | 'api_key_many_ips' | 'enumeration' | 'request_volume' | 'error_ratio' | 'resource_pressure';

export interface DetectorThresholds {
  windowMs: number;
  stuffingAccounts: number;
  stuffingNetworkAccounts: number;
  sprayingAccounts: number;
  bruteForceFailures: number;
  /** 0: off */
  apiKeyIps: number;
}

export interface Responds {
  respond(rule: RuleName, target: ResponseTarget): Promise<void>;
}

export class Detector {
  constructor(private readonly deps: { windows: SlidingWindows; alerts: AlertService; logger: Logger; thresholds: DetectorThresholds; responder: () => Responds | undefined }) {}

  /** The SecurityEvents listener. */
  readonly onEvent = async (event: RecordedSecurityEvent, signals: DetectionSignals): Promise<void> => {
    if (event.type === 'auth.sign_in_failed') await this.signInFailed(event, signals);
    else if (event.type === 'auth.refresh_token_reused') {
      await this.deps.alerts.raise({ rule: 'refresh_token_reuse', key: `user:${event.userId ?? 'unknown'}`, severity: 'critical', details: { familyId: String(event.details.familyId ?? ''), ip: event.ip ?? '' } });
    } else if (event.type === 'api_key.new_ip') await this.apiKeyNewIp(event);
  };

  /** Fires `rule` for `key` at most once per window: alert, then the configured response. */
  async fire(rule: RuleName, key: string, windowMs: number, severity: AlertSeverity, details: Record<string, string | number | boolean>, target?: ResponseTarget): Promise<void> {
    if (!(await this.deps.windows.once(rule, key, windowMs))) return;
    await this.deps.alerts.raise({ rule, key, severity, details });
    if (target) await this.deps.responder()?.respond(rule, target);
  }

  private async signInFailed(event: RecordedSecurityEvent, signals: DetectionSignals): Promise<void> {
    const { windows, thresholds: t } = this.deps;
    const account = signals.account ?? event.userId;
    if (!account) return;
    const ip = event.ip;
    const minutes = Math.round(t.windowMs / 60_000);
    if (ip) {
      // Credential stuffing: many accounts from one source (an address, or its /24 or /48).
      const fromIp = await windows.distinct('stuff_ip', ip, account, t.windowMs);
      if (fromIp >= t.stuffingAccounts) {
        await this.fire('credential_stuffing', `ip:${ip}`, t.windowMs, 'critical', { accounts: fromIp, threshold: t.stuffingAccounts, windowMinutes: minutes }, { ip });
      }
      const network = networkOf(ip);
      const fromNetwork = await windows.distinct('stuff_net', network, account, t.windowMs);
      if (fromNetwork >= t.stuffingNetworkAccounts) {
        await this.fire('credential_stuffing', `net:${network}`, t.windowMs, 'critical', { accounts: fromNetwork, threshold: t.stuffingNetworkAccounts, windowMinutes: minutes }, { ip, network: true });
      }
    }
    if (signals.passwordPrefix) {
      // Spraying: one password (by its keyed 16-bit prefix) across many accounts, from anywhere.
      const accounts = await windows.distinct('spray', signals.passwordPrefix, account, t.windowMs);
      if (accounts >= t.sprayingAccounts) {
        await this.fire('password_spraying', `pw:${signals.passwordPrefix}`, t.windowMs, 'critical', { accounts, threshold: t.sprayingAccounts, windowMinutes: minutes });
      }
    }
    const failures = await windows.add('brute', account, t.windowMs);
    if (failures >= t.bruteForceFailures) {
      await this.fire('brute_force', `account:${account}`, t.windowMs, 'warning', { failures, threshold: t.bruteForceFailures, windowMinutes: minutes, ...(event.userId ? { userId: event.userId } : {}) });
    }
  }

  private async apiKeyNewIp(event: RecordedSecurityEvent): Promise<void> {
    const { windows, thresholds: t } = this.deps;
    const keyId = typeof event.details.keyId === 'string' ? event.details.keyId : null;
    if (t.apiKeyIps === 0 || !keyId || !event.ip) return;
    const addresses = await windows.distinct('key_ips', keyId, event.ip, t.windowMs);
    if (addresses >= t.apiKeyIps) {
      await this.fire(
        'api_key_many_ips',
        `api_key:${keyId}`,
        t.windowMs,
        'critical',
        { addresses, threshold: t.apiKeyIps, windowMinutes: Math.round(t.windowMs / 60_000) },
        event.userId ? { apiKey: { id: keyId, userId: event.userId } } : undefined,
      );
    }
  }
}
