/**
 * Wires the privacy module: services, routes, the consent gate and the schedule that
 * runs the erasure and retention jobs on every instance (each job is safe to run on
 * many instances at once).
 */
import type { Config } from '../../config/index.js';
import type { App } from '../../http/app-type.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { JobQueue } from '../../platform/queue/queue.js';
import type { AuthDeps } from '../auth/deps.js';
import { registerConsentGate } from './consent-gate.js';
import { ErasureService, type PseudonymiseActor } from './erasure.js';
import { ExportService } from './export-service.js';
import { PolicyService } from './policies.js';
import { RetentionService, type RetentionSettings } from './retention.js';
import { privacyRoutes } from './routes.js';

type PrivacyConfig = Pick<
  Config,
  | 'PUBLIC_URL'
  | 'ERASURE_GRACE_DAYS'
  | 'PRIVACY_JOB_INTERVAL_SECONDS'
  | 'RETENTION_CONVERSATIONS_DAYS'
  | 'RETENTION_UPLOADS_DAYS'
  | 'RETENTION_SECURITY_EVENTS_DAYS'
  | 'RETENTION_AUDIT_DAYS'
  | 'RETENTION_SESSIONS_DAYS'
  | 'RETENTION_EXPORTS_DAYS'
>;

export function retentionSettings(config: PrivacyConfig): RetentionSettings {
  return {
    conversations: config.RETENTION_CONVERSATIONS_DAYS,
    uploads: config.RETENTION_UPLOADS_DAYS,
    securityEvents: config.RETENTION_SECURITY_EVENTS_DAYS,
    audit: config.RETENTION_AUDIT_DAYS,
    sessions: config.RETENTION_SESSIONS_DAYS,
    exports: config.RETENTION_EXPORTS_DAYS,
  };
}

export interface Privacy {
  erasure: ErasureService;
  exports: ExportService;
  policies: PolicyService;
  retention: RetentionService;
  /** Registers the routes, starts the export consumer and the schedule (stopped when the app closes). */
  register(app: App, prefix: string): Promise<void>;
}

/** The consent gate: call before the routes it guards are registered (hooks apply to routes registered after them). */
export function registerPrivacyGate(app: App, deps: Pick<AuthDeps, 'db' | 'clock'>): PolicyService {
  const policies = new PolicyService(deps.db, deps.clock);
  registerConsentGate(app, policies, deps.db, deps.clock);
  return policies;
}

export function createPrivacy(
  deps: AuthDeps & { config: PrivacyConfig; encryptor: Encryptor; queue: JobQueue; policies: PolicyService; pseudonymiseActor?: PseudonymiseActor | undefined; membershipsChanged?: (() => Promise<void>) | undefined },
): Privacy {
  const { config } = deps;
  const erasure = new ErasureService(deps, { graceDays: config.ERASURE_GRACE_DAYS, pseudonymiseActor: deps.pseudonymiseActor, membershipsChanged: deps.membershipsChanged });
  const exports = new ExportService({ db: deps.db, encryptor: deps.encryptor, clock: deps.clock, logger: deps.logger, mailer: deps.mailer, queue: deps.queue, publicUrl: config.PUBLIC_URL });
  const { policies } = deps;
  const retention = new RetentionService(deps.db, deps.clock, deps.logger, retentionSettings(config));
  return {
    erasure,
    exports,
    policies,
    retention,
    register: async (app, prefix) => {
      await app.register(privacyRoutes(deps, { erasure, exports, policies }), { prefix });
      exports.start();
      const intervalMs = config.PRIVACY_JOB_INTERVAL_SECONDS * 1000;
      if (intervalMs === 0) return;
      let running = false;
      const tick = async () => {
        if (running) return; // a slow run is never overlapped in one process
        running = true;
        try {
          await erasure.runDue();
          await retention.run();
        } catch (error) {
          deps.logger.error({ err: error }, 'privacy jobs failed; retrying at the next interval');
        } finally {
          running = false;
        }
      };
      let timer: NodeJS.Timeout | undefined;
      app.addHook('onReady', async () => {
        timer = setInterval(() => void tick(), intervalMs);
        timer.unref();
      });
      app.addHook('onClose', async () => clearInterval(timer));
    },
  };
}
