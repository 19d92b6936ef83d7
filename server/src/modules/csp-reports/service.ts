/**
 * Content-Security-Policy violation reports, kept for the operators: every field is
 * truncated (browsers and anyone else can post here), the line kept only when it is a number.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import { insertCspReports } from './repo.js';

type Field = string | number | undefined;

/** One violation, whichever report format (legacy `report-uri` or Reporting API) it came in. */
export interface CspViolation {
  document: Field;
  blocked: Field;
  directive: Field;
  file: Field;
  line: Field;
  disposition: Field;
}

const text = (value: unknown) => String(value ?? '').slice(0, 500);

export class CspReportService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Stores the violations with who sent them; nothing when there are none. */
  async record(violations: CspViolation[], sender: { ip: string; userAgent: string | undefined }): Promise<void> {
    if (violations.length === 0) return;
    const userAgent = text(sender.userAgent);
    const now = this.clock.now();
    await insertCspReports(
      this.db,
      violations.map((r) => ({
        id: randomUUID(),
        document_uri: text(r.document),
        blocked_uri: text(r.blocked),
        directive: text(r.directive),
        source_file: text(r.file),
        line: Number.isInteger(Number(r.line)) && r.line !== undefined ? Number(r.line) : null,
        disposition: text(r.disposition ?? 'enforce'),
        user_agent: userAgent,
        ip: sender.ip,
        created_at: now,
      })),
    );
  }
}
