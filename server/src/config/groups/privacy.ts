/** The `Privacy` group. Account erasure and retention jobs. */
import { int, type Variable } from '../variable.js';

export const privacyVariables = {
  ERASURE_GRACE_DAYS: {
    group: 'Privacy',
    schema: int(0, 90, 7),
    doc: 'Days between an account deletion request (DELETE /api/v1/me) and the erasure; the owner can cancel until then. 0 erases at the next privacy job run.',
  },
  PRIVACY_JOB_INTERVAL_SECONDS: {
    group: 'Privacy',
    schema: int(0, 86_400, 3_600),
    doc: 'How often each instance runs the erasure and retention jobs (safe on many instances at once); 0 turns the schedule off (run `bastion retention run` from cron instead).',
  },
  RETENTION_CONVERSATIONS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 0),
    doc: 'Delete conversations (and their messages) not updated for this many days; 0 keeps them forever.',
  },
  RETENTION_UPLOADS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 0),
    doc: 'Delete knowledge-base documents (originals, chunks) uploaded this many days ago; 0 keeps them forever.',
  },
  RETENTION_SECURITY_EVENTS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 365),
    doc: 'Delete security events older than this many days; 0 keeps them forever.',
  },
  RETENTION_AUDIT_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 0),
    doc: 'Audit log entries older than this many days are pseudonymised (never deleted: the chain must verify); 0 leaves them as they are.',
  },
  RETENTION_SESSIONS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 90),
    doc: 'Delete session records and sign-in history this many days after the session ended; 0 keeps them forever.',
  },
  RETENTION_EXPORTS_DAYS: {
    group: 'Privacy',
    schema: int(0, 36_500, 30),
    doc: 'Delete data export records this many days after they were requested (archives themselves are gone after download or 24 h); 0 keeps the records forever.',
  },
} satisfies Record<string, Variable>;
