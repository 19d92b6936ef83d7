/**
 * POST /api/v1/csp-reports: where browsers send Content-Security-Policy violations
 * (legacy `report-uri` bodies and Reporting API `report-to` batches). Small bodies,
 * rate limited per client, fields truncated, stored for the operators.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';

const Field = z.union([z.string(), z.number()]).optional();
const LegacyReport = z.looseObject({
  'document-uri': Field,
  'blocked-uri': Field,
  'violated-directive': Field,
  'effective-directive': Field,
  'source-file': Field,
  'line-number': Field,
  disposition: Field,
});
const ReportingBody = z.looseObject({
  documentURL: Field,
  blockedURL: Field,
  effectiveDirective: Field,
  sourceFile: Field,
  lineNumber: Field,
  disposition: Field,
});
const Body = z.union([
  z.looseObject({ 'csp-report': LegacyReport }),
  z.array(z.looseObject({ type: z.string(), body: ReportingBody })).max(20),
]);

export const CSP_REPORT_CONTENT_TYPES = ['application/csp-report', 'application/reports+json'];
const text = (value: unknown) => String(value ?? '').slice(0, 500);

export function cspReportRoutes(deps: { db: Db; clock: Clock }): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/csp-reports',
      {
        bodyLimit: 16 * 1024,
        config: { rateLimit: 'report', csrf: false, access: 'public' },
        schema: { tags: ['security'], summary: 'Receive Content-Security-Policy violation reports', body: Body, response: { 204: z.null() } },
      },
      async (request, reply) => {
        const userAgent = text(request.headers['user-agent']);
        const now = deps.clock.now();
        const reports = Array.isArray(request.body)
          ? request.body
              .filter((r) => r.type === 'csp-violation')
              .map((r) => ({ document: r.body.documentURL, blocked: r.body.blockedURL, directive: r.body.effectiveDirective, file: r.body.sourceFile, line: r.body.lineNumber, disposition: r.body.disposition }))
          : [(({ 'csp-report': r }) => ({ document: r['document-uri'], blocked: r['blocked-uri'], directive: r['effective-directive'] ?? r['violated-directive'], file: r['source-file'], line: r['line-number'], disposition: r.disposition }))(request.body)];
        if (reports.length > 0) {
          await deps.db
            .insertInto('csp_reports')
            .values(
              reports.map((r) => ({
                id: randomUUID(),
                document_uri: text(r.document),
                blocked_uri: text(r.blocked),
                directive: text(r.directive),
                source_file: text(r.file),
                line: Number.isInteger(Number(r.line)) && r.line !== undefined ? Number(r.line) : null,
                disposition: text(r.disposition ?? 'enforce'),
                user_agent: userAgent,
                ip: request.ip,
                created_at: now,
              })),
            )
            .execute();
        }
        return reply.status(204).send(null);
      },
    );
  };
}
