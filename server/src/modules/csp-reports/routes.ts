/**
 * POST /api/v1/csp-reports: where browsers send Content-Security-Policy violations
 * (legacy `report-uri` bodies and Reporting API `report-to` batches). Small bodies,
 * rate limited per client, fields truncated, stored for the operators.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CspReportService, CspViolation } from './service.js';

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
const Body = z.union([z.looseObject({ 'csp-report': LegacyReport }), z.array(z.looseObject({ type: z.string(), body: ReportingBody })).max(20)]);

export const CSP_REPORT_CONTENT_TYPES = ['application/csp-report', 'application/reports+json'];

export function cspReportRoutes(reports: CspReportService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/csp-reports',
      {
        bodyLimit: 16 * 1024,
        config: { rateLimit: 'report', csrf: false, access: 'public' },
        schema: { tags: ['security'], summary: 'Receive Content-Security-Policy violation reports', body: Body, response: { 204: z.null() } },
      },
      async (request, reply) => {
        const violations: CspViolation[] = Array.isArray(request.body)
          ? request.body
              .filter((r) => r.type === 'csp-violation')
              .map((r) => ({ document: r.body.documentURL, blocked: r.body.blockedURL, directive: r.body.effectiveDirective, file: r.body.sourceFile, line: r.body.lineNumber, disposition: r.body.disposition }))
          : [
              (({ 'csp-report': r }) => ({
                document: r['document-uri'],
                blocked: r['blocked-uri'],
                directive: r['effective-directive'] ?? r['violated-directive'],
                file: r['source-file'],
                line: r['line-number'],
                disposition: r.disposition,
              }))(request.body),
            ];
        await reports.record(violations, { ip: request.ip, userAgent: request.headers['user-agent'] });
        return reply.status(204).send(null);
      },
    );
  };
}
