/** The one shape an audit entry leaves in (admin API, `bastion audit export`). */
import type { AuditEntryRow } from './repo.js';

export interface AuditEntryView {
  seq: number;
  at: string;
  actor: { type: string; id: string | null; keyId: string | null; ip: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  workspaceId: string | null;
  subjectId: string | null;
  requestId: string | null;
  details: unknown;
  pseudonymised: boolean;
  /** With personalSalt (null once pseudonymised), lets anyone holding the export recheck the chain. */
  personalDigest: string;
  personalSalt: string | null;
  prevHash: string;
  hash: string;
}

export function entryView(row: AuditEntryRow): AuditEntryView {
  return {
    seq: Number(row.seq),
    at: row.at.toISOString(),
    actor: { type: row.actor_type, id: row.actor_id, keyId: row.actor_key_id, ip: row.actor_ip },
    action: row.action,
    target: row.target_type === null ? null : { type: row.target_type, id: row.target_id },
    workspaceId: row.workspace_id,
    subjectId: row.subject_id,
    requestId: row.request_id,
    details: row.details,
    pseudonymised: row.pseudonymised_at !== null,
    personalDigest: row.personal_digest,
    personalSalt: row.personal_salt,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
