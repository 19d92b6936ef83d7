/**
 * The monitoring plugin: what administrators watch. Security monitoring's responder and
 * pressure sampler (its request boundary is in core), security events and alerts, cache
 * statistics, the outbox and the settings in force, the audit log's routes, and CSP
 * violation reports.
 */
import fp from 'fastify-plugin';
import { API_PREFIX } from '../http/api-versions.js';
import type { App } from '../http/app-type.js';
import { cacheStatsRoute } from '../modules/admin/cache-routes.js';
import { CacheStatsService } from '../modules/admin/cache-service.js';
import { instanceAdminRoutes } from '../modules/admin/instance-routes.js';
import { InstanceAdminService } from '../modules/admin/instance-service.js';
import { auditRoutes } from '../modules/audit/routes.js';
import { cspReportRoutes } from '../modules/csp-reports/routes.js';
import { CspReportService } from '../modules/csp-reports/service.js';
import { alertRoutes } from '../modules/monitoring/routes.js';
import { securityEventRoutes } from '../modules/security-events/routes.js';

export const monitoring = fp(
  async (app: App) => {
    const { db, clock, database, monitoring, outbound, securityEvents, cacheStats } = app.core;
    const { authDeps, apiKeys, audit } = app.accounts;
    monitoring.attach(app, { outbound: outbound.webhooks, apiKeys, poolStats: () => database.poolStats?.() });
    await app.register(securityEventRoutes(authDeps), { prefix: API_PREFIX });
    await app.register(alertRoutes(authDeps, monitoring.alerts, securityEvents), { prefix: API_PREFIX });
    await app.register(cacheStatsRoute(authDeps, new CacheStatsService(cacheStats, audit)), { prefix: API_PREFIX });
    await app.register(instanceAdminRoutes(new InstanceAdminService({ db, encryptor: app.core.encryptor, mailer: app.core.mailer, config: app.core.config, audit })), { prefix: API_PREFIX });
    await app.register(auditRoutes(authDeps, audit), { prefix: API_PREFIX });
    await app.register(cspReportRoutes(new CspReportService(db, clock)), { prefix: API_PREFIX });
  },
  { name: 'bastion-monitoring', fastify: '5.x', dependencies: ['bastion-core', 'bastion-accounts'] },
);
