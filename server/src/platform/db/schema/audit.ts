/** Table types of audit: the hash-chained log, its signed checkpoints and the keys that sign them. */
import type { AuditActorType } from '../../../domain/audit.js';

export interface AuditEntriesTable {
  seq: string; // bigint comes back as a string
  at: Date;
  actor_type: AuditActorType;
  actor_key_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  workspace_id: string | null;
  request_id: string | null;
  details: unknown;
  personal_digest: string;
  prev_hash: string;
  hash: string;
  actor_id: string | null;
  actor_ip: string | null;
  subject_id: string | null;
  personal_salt: string | null;
  pseudonymised_at: Date | null;
}

export interface AuditCheckpointsTable {
  seq: string; // bigint comes back as a string
  hash: string;
  at: Date;
  key_id: string;
  signature: string;
}

export interface AuditKeysTable {
  id: string;
  secret: Buffer;
  created_at: Date;
}
