/**
 * Security monitoring, wired once by app.ts: the event stream (security-events), the
 * detection rules (detector, traffic, pressure), alerts with their sinks, and the
 * responses switched on in MONITOR_RESPONSES. Thresholds: group "Security monitoring"
 * in config.ts.
 */
import type { Logger } from 'pino';
import type { App } from '../../http/app-type.js';
import type { Config } from '../../config/index.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { Mailer } from '../../platform/mail/mailer.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import type { Store } from '../../platform/store/store.js';
import type { ApiKeyService } from '../api-keys/service.js';
import { SecurityEvents } from '../security-events/service.js';
import { AlertService } from './alerts.js';
import { Detector } from './detector.js';
import { PressureSampler } from './pressure.js';
import { ipBlockHook, parseResponses, Responder } from './responses.js';
import { EmailSink, WebhookSink, type AlertSink } from './sinks.js';
import { SpendWatch } from './spend.js';
import { trafficObserver } from './traffic.js';
import { SlidingWindows } from './windows.js';

export interface MonitoringDeps {
  config: Config;
  db: Db;
  store: Store;
  clock: Clock;
  logger: Logger;
  mailer: Mailer;
}

export class Monitoring {
  readonly events: SecurityEvents;
  readonly alerts: AlertService;
  readonly detector: Detector;
  readonly windows: SlidingWindows;
  readonly spend: SpendWatch;
  private readonly sinks: AlertSink[] = [];
  private readonly actions;
  private responder: Responder | undefined;
  private sampler: PressureSampler | undefined;
  private traffic: ReturnType<typeof trafficObserver> | undefined;

  constructor(private readonly deps: MonitoringDeps) {
    const { config } = deps;
    this.actions = parseResponses(config.MONITOR_RESPONSES);
    this.events = new SecurityEvents(deps);
    if (config.ALERT_EMAIL_TO) this.sinks.push(new EmailSink(deps.mailer, config.ALERT_EMAIL_TO));
    this.alerts = new AlertService({ ...deps, sinks: this.sinks, dedupMs: config.ALERT_DEDUP_MINUTES * 60_000, sinkMaxPerHour: config.ALERT_SINK_MAX_PER_HOUR });
    this.windows = new SlidingWindows(deps.store, deps.clock);
    this.detector = new Detector({
      windows: this.windows,
      alerts: this.alerts,
      logger: deps.logger,
      responder: () => this.responder,
      thresholds: {
        windowMs: config.MONITOR_WINDOW_MINUTES * 60_000,
        stuffingAccounts: config.MONITOR_STUFFING_ACCOUNTS,
        stuffingNetworkAccounts: config.MONITOR_STUFFING_NETWORK_ACCOUNTS,
        sprayingAccounts: config.MONITOR_SPRAYING_ACCOUNTS,
        bruteForceFailures: config.MONITOR_BRUTE_FORCE_FAILURES,
        apiKeyIps: config.MONITOR_API_KEY_IPS,
      },
    });
    this.events.subscribe(this.detector.onEvent);
    this.spend = new SpendWatch(deps.store, deps.clock, this.alerts, { minTokens: config.MONITOR_SPEND_MIN_TOKENS, factor: config.MONITOR_SPEND_FACTOR });
  }

  /** Hooks that run before authentication: the address block; and the traffic observer. */
  registerBoundary(app: App): void {
    const { config, store } = this.deps;
    // The block costs a store read per API request, so the hook exists only when a rule may block.
    if ([...this.actions.values()].includes('block_ip')) app.addHook('onRequest', ipBlockHook(store));
    const traffic = trafficObserver({
      ...this.deps,
      events: this.events,
      detector: this.detector,
      allowedOrigins: new Set([new URL(config.PUBLIC_URL).origin, ...config.CORS_ORIGINS]),
      anyOrigin: config.CORS_ORIGINS.includes('*'),
      thresholds: {
        windowMs: config.MONITOR_TRAFFIC_WINDOW_SECONDS * 1000,
        enumeration: config.MONITOR_ENUMERATION_RESPONSES,
        volume: config.MONITOR_REQUESTS_PER_PRINCIPAL,
        errorRatio: config.MONITOR_ERROR_RATIO,
        errorMin: config.MONITOR_ERROR_MIN,
      },
    });
    app.addHook('onResponse', traffic.hook);
    this.traffic = traffic;
  }

  /** The pieces app.ts builds later: outbound HTTP (webhook sink), API keys (revocation), the DB pool (pressure). */
  attach(app: App, parts: { outbound: OutboundHttp<'webhooks'>; apiKeys: ApiKeyService; poolStats: () => { waiting: number } | undefined }): void {
    const { config, store, clock } = this.deps;
    if (config.ALERT_WEBHOOK_URL && config.ALERT_WEBHOOK_SECRET) this.sinks.push(new WebhookSink(parts.outbound, config.ALERT_WEBHOOK_URL, config.ALERT_WEBHOOK_SECRET, clock));
    this.responder = new Responder({ store, events: this.events, apiKeys: parts.apiKeys, actions: this.actions, blockMs: config.MONITOR_BLOCK_MINUTES * 60_000 });
    const sampler = new PressureSampler(this.alerts, { eventLoopLagMs: config.MONITOR_EVENT_LOOP_LAG_MS, heapUsedRatio: config.MONITOR_HEAP_USED_RATIO, dbPoolWaiting: config.MONITOR_DB_POOL_WAITING }, parts.poolStats);
    this.sampler = sampler;
    app.addHook('onReady', async () => sampler.start(config.MONITOR_SAMPLE_SECONDS * 1000));
    app.addHook('onClose', async () => {
      sampler.stop();
      // The last answers' counts first: they may raise alerts of their own.
      await this.traffic?.settle();
      await this.alerts.settled();
    });
  }

  get pressure(): PressureSampler | undefined {
    return this.sampler;
  }
}
