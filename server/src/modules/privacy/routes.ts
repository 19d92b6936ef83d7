/**
 * /api/v1/me (erasure, export, consents), /api/v1/privacy/policies and
 * /api/v1/admin/policies. Everything about the account's own data needs a browser
 * session: an API key that leaks must not be able to export or delete an account.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireSession } from '../../http/authenticate.js';
import { AppError } from '../../errors.js';
import type { AuthDeps } from '../auth/deps.js';
import type { ErasureService } from './erasure.js';
import type { ExportService } from './export-service.js';
import { CONSENT_PURPOSES, POLICY_KINDS, type PolicyService } from './policies.js';
import { originOf } from '../security-events/origin.js';

const Ok = z.object({ ok: z.literal(true) });
const Kind = z.enum(POLICY_KINDS).describe('`privacy` (privacy policy) or `terms` (terms of use)');
const ExportView = z.object({
  id: z.uuid(),
  status: z.enum(['pending', 'ready', 'downloaded', 'expired', 'failed']).describe('`ready`: the mailed link works (once, for 24 h)'),
  sizeBytes: z.number().int().nullable(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  downloadedAt: z.string().nullable(),
});
const PolicyView = z.object({ kind: Kind, version: z.number().int(), sha256: z.string().describe('SHA-256 of the text (hex)'), text: z.string(), publishedAt: z.string() });
const ConsentView = z.object({
  purpose: z.enum(CONSENT_PURPOSES),
  granted: z.boolean(),
  policyVersion: z.number().int().nullable().describe('Privacy policy version in force when last changed'),
  recordedAt: z.string().nullable(),
});

export interface PrivacyServices {
  erasure: ErasureService;
  exports: ExportService;
  policies: PolicyService;
}

export function privacyRoutes(deps: AuthDeps, services: PrivacyServices): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['privacy'];
    const session = { session: true } as const;

    app.delete(
      '/me',
      {
        config: { access: session, rateLimit: 'auth' },
        schema: {
          tags,
          summary: 'Delete my account: erased after the grace period unless cancelled; other sessions end now',
          body: z.strictObject({
            password: z.string().min(1).max(4_096).describe('Current password'),
            code: z.string().trim().min(6).max(24).optional().describe('TOTP or recovery code; required when two-factor authentication is on'),
          }),
          response: { 202: z.object({ erasureScheduledAt: z.string() }) },
        },
      },
      async (request, reply) => {
        const user = await request.callerUser();
        const at = await services.erasure.request(user, request.body, { ip: request.ip, sessionId: requireSession(request).id, origin: originOf(request) });
        return reply.status(202).send({ erasureScheduledAt: at.toISOString() });
      },
    );

    app.post('/me/erasure/cancel', { config: { access: session }, schema: { tags, summary: 'Cancel a pending account deletion', response: { 200: Ok } } }, async (request) => {
      await services.erasure.cancel(await request.callerUser());
      return { ok: true as const };
    });

    app.post('/me/export', { config: { access: session }, schema: { tags, summary: 'Export my data (one per hour): a mailed, single-use link to a ZIP', response: { 202: ExportView } } }, async (request, reply) => {
      const user = await request.callerUser();
      return reply.status(202).send(await services.exports.request(user.id));
    });

    app.get('/me/exports', { config: { access: session }, schema: { tags, summary: 'My data exports and their status', response: { 200: z.object({ exports: z.array(ExportView) }) } } }, async (request) => ({
      exports: await services.exports.list((await request.callerUser()).id),
    }));

    // POST, not GET: the token stays out of URLs, logs and history (ASVS 14.2.1).
    app.post(
      '/me/exports/:id/download',
      {
        config: { access: session, rateLimit: 'auth' },
        schema: {
          tags,
          summary: 'Download an export once, with the token from the mailed link',
          params: z.object({ id: z.uuid() }),
          body: z.strictObject({ token: z.string().min(10).max(200).describe('The token in the mailed link') }),
          response: { 200: z.any().describe('application/zip') },
        },
      },
      async (request, reply) => {
        const user = await request.callerUser();
        const archive = await services.exports.download(user.id, request.params.id, request.body.token);
        return reply.header('content-type', 'application/zip').header('content-disposition', `attachment; filename="bastion-export-${request.params.id}.zip"`).send(archive);
      },
    );

    app.get(
      '/me/consents',
      { config: { access: session }, schema: { tags, summary: 'My consents and the policy versions I still have to accept', response: { 200: z.object({ consents: z.array(ConsentView), pendingPolicies: z.array(PolicyView) }) } } },
      async (request) => {
        const user = await request.callerUser();
        return consentsView(services.policies, user.id);
      },
    );

    app.put(
      '/me/consents',
      {
        config: { access: session },
        schema: {
          tags,
          summary: 'Give or withdraw consent for optional purposes',
          body: z
            .strictObject({
              product_analytics: z.boolean().optional().describe('Usage analytics to improve the product'),
              improve_prompts: z.boolean().optional().describe('Use of my prompts to improve prompts and agents'),
            })
            .refine((b) => Object.keys(b).length > 0, 'name at least one purpose'),
          response: { 200: z.object({ consents: z.array(ConsentView), pendingPolicies: z.array(PolicyView) }) },
        },
      },
      async (request) => {
        const user = await request.callerUser();
        await services.policies.setConsents(user.id, request.body);
        return consentsView(services.policies, user.id);
      },
    );

    app.post(
      '/me/policies/accept',
      {
        config: { access: session },
        schema: {
          tags,
          summary: 'Accept the privacy policy or terms in force',
          body: z.strictObject({
            accept: z
              .array(z.strictObject({ kind: Kind, version: z.number().int().positive() }))
              .min(1)
              .max(POLICY_KINDS.length),
          }),
          response: { 200: z.object({ consents: z.array(ConsentView), pendingPolicies: z.array(PolicyView) }) },
        },
      },
      async (request) => {
        const user = await request.callerUser();
        await services.policies.accept(user.id, request.body.accept);
        return consentsView(services.policies, user.id);
      },
    );

    app.get('/privacy/policies', { config: { access: 'public' }, schema: { tags, summary: 'The privacy policy and terms in force', response: { 200: z.object({ policies: z.array(PolicyView) }) } } }, async () => ({
      policies: (await services.policies.currentVersions()).map(policyView),
    }));

    app.post(
      '/admin/policies',
      {
        config: { access: { scope: 'admin:write' } },
        schema: {
          tags: ['admin'],
          summary: 'Publish a new version of the privacy policy or terms; everyone must accept it again',
          body: z.strictObject({ kind: Kind, text: z.string().trim().min(20).max(200_000).describe('The full text (Markdown)') }),
          response: { 201: PolicyView },
        },
      },
      async (request, reply) => {
        const admin = await request.callerUser();
        if (admin.role !== 'admin') throw new AppError('forbidden', 'Only administrators can publish policies.');
        return reply.status(201).send(policyView(await services.policies.publish(request.body.kind, request.body.text)));
      },
    );
  };
}

function policyView(p: { kind: 'privacy' | 'terms'; version: number; sha256: string; text: string; publishedAt: Date }) {
  return { kind: p.kind, version: p.version, sha256: p.sha256, text: p.text, publishedAt: p.publishedAt.toISOString() };
}

async function consentsView(policies: PolicyService, userId: string) {
  return {
    consents: (await policies.consents(userId)).map((c) => ({ purpose: c.purpose, granted: c.granted, policyVersion: c.policyVersion, recordedAt: c.recordedAt?.toISOString() ?? null })),
    pendingPolicies: (await policies.pending(userId)).map(policyView),
  };
}
