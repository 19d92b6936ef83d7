/**
 * buildApp(deps): wires plugins and modules onto one Fastify instance.
 * main.ts calls it with real adapters; tests call it with the harness's.
 */
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { registerErrorHandler, sendError } from './http/errors-plugin.js';
import { AppError } from './http/errors.js';
import { registerJsonBody } from './http/json-body.js';
import { requestId } from './http/request-id.js';
import { hasWebBuild, registerWebApp, sendSpaShell, WEB_BUILD_DIR, wantsSpaShell } from './http/web-app.js';
import { healthRoutes } from './modules/health/routes.js';
import type { Database } from './platform/db/database.js';
import type { Store } from './platform/store/store.js';
import type { Encryptor } from './platform/crypto/envelope.js';
import fastifyCookie from '@fastify/cookie';
import { cookiePolicy, registerAuthentication } from './http/authenticate.js';
import { authRoutes } from './modules/auth/routes.js';
import { adminUserRoutes } from './modules/users/admin-routes.js';
import { LoginThrottle } from './modules/auth/throttle.js';
import { SessionService } from './modules/sessions/service.js';
import { systemClock, type Clock } from './platform/clock.js';
import type { Mailer } from './platform/mail/mailer.js';

export const API_PREFIX = '/api/v1';

export interface AppDeps {
  config: Config;
  logger: Logger;
  database: Database;
  store: Store;
  /** Envelope encryption for secrets and content at rest; modules take it from here. */
  encryptor: Encryptor;
  mailer: Mailer;
  clock?: Clock;
  /** Directory of the built web app; `null` serves no web app. Defaults to web/build when present. */
  webRoot?: string | null;
}

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: requestId,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  registerJsonBody(app, config.JSON_MAX_DEPTH);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // While closing, answer in-flight requests with `Connection: close` so their
  // keep-alive sockets end with the response instead of holding shutdown open.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Bastion API', version: '1', description: 'Self-hosted AI agent platform.' },
      servers: [{ url: config.PUBLIC_URL }],
    },
    transform: jsonSchemaTransform,
  });

  // No page or API response leaks its URL (reset and invitation links) to other sites.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('referrer-policy', 'no-referrer');
  });

  const clock = deps.clock ?? systemClock;
  const sessions = new SessionService(deps.database.db, deps.store, clock, {
    idleMs: config.SESSION_IDLE_TIMEOUT_MINUTES * 60_000,
    absoluteMs: config.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3_600_000,
  });
  const cookie = cookiePolicy(config.PUBLIC_URL, config.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3_600_000);
  await app.register(fastifyCookie);
  registerAuthentication(app, { sessions, cookie, publicOrigin: new URL(config.PUBLIC_URL).origin });
  const authDeps = {
    db: deps.database.db,
    store: deps.store,
    clock,
    mailer: deps.mailer,
    encryptor: deps.encryptor,
    logger: deps.logger,
    sessions,
    throttle: new LoginThrottle(deps.store, clock, {
      threshold: config.LOCKOUT_THRESHOLD,
      lockMs: config.LOCKOUT_MINUTES * 60_000,
      perIp: 100,
      perIpAccount: 20,
      windowMs: 15 * 60_000,
    }),
    settings: {
      publicUrl: config.PUBLIC_URL,
      registration: config.REGISTRATION,
      requireEmailVerification: config.REQUIRE_EMAIL_VERIFICATION,
      requireMfa: config.REQUIRE_MFA,
      passwordMinLength: config.PASSWORD_MIN_LENGTH,
      lockoutMinutes: config.LOCKOUT_MINUTES,
    },
  };
  await app.register(authRoutes(authDeps, cookie), { prefix: API_PREFIX });
  await app.register(adminUserRoutes(authDeps), { prefix: API_PREFIX });

  const health = healthRoutes({ database: deps.database, store: deps.store, timeoutMs: 2_000 });
  await app.register(health);
  await app.register(health, { prefix: API_PREFIX });
  app.get(
    `${API_PREFIX}/openapi.json`,
    { schema: { hide: true } },
    async () => app.swagger(),
  );

  const webRoot = deps.webRoot === undefined ? (hasWebBuild(WEB_BUILD_DIR) ? WEB_BUILD_DIR : null) : deps.webRoot;
  if (webRoot) await registerWebApp(app, webRoot);

  app.setNotFoundHandler(async (request, reply) => {
    if (webRoot && wantsSpaShell(request)) return sendSpaShell(reply);
    return sendError(request, reply, new AppError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`));
  });

  return app;
}
