/**
 * Verification of the audit log: recomputes every entry's hash and link in sequence order
 * and checks every checkpoint's signature against the entry it names. Reports the first
 * broken entry (lowest sequence number) and why.
 */
import type { Db } from '../../platform/db/database.js';
import { checkpointSignatureValid, entryHash, GENESIS_HASH, personalDigest } from './chain.js';
import type { AuditKeys } from './keys.js';
import * as repo from './repo.js';

export type BreakKind =
  | 'edited' // the entry's content no longer matches its hash
  | 'personal_edited' // its personal fields no longer match their salted digest
  | 'deleted' // a sequence number is missing
  | 'reordered' // its prev_hash is not the hash of the entry before it (reordered, inserted, or the one before was rewritten)
  | 'truncated' // a signed checkpoint names an entry beyond the end of the log
  | 'checkpoint_forged' // a checkpoint's signature does not verify (or names an unknown key)
  | 'checkpoint_mismatch'; // a validly signed checkpoint disagrees with the entry it names (entries rewritten)

export interface AuditBreak {
  seq: number;
  kind: BreakKind;
  message: string;
}

export type VerifyResult = { ok: true; entries: number; checkpoints: number; lastSeq: number } | { ok: false; entries: number; checkpoints: number; lastSeq: number; broken: AuditBreak };

const BATCH = 1_000;

export async function verifyAuditLog(db: Db, keys: AuditKeys): Promise<VerifyResult> {
  const checkpoints = await repo.checkpoints(db);
  const signedAt = new Map(checkpoints.map((c) => [Number(c.seq), c]));
  const problems: AuditBreak[] = [];
  const note = (broken: AuditBreak) => problems.push(broken);

  for (const c of checkpoints) {
    const seq = Number(c.seq);
    const key = await keys.get(c.key_id);
    if (!key || !checkpointSignatureValid(key, { seq, hash: c.hash, at: c.at, keyId: c.key_id }, c.signature)) {
      note({ seq, kind: 'checkpoint_forged', message: `checkpoint at entry ${seq}: signature does not verify (forged or altered checkpoint)` });
      break;
    }
  }

  let expected = 1;
  let prevHash = GENESIS_HASH;
  let count = 0;
  chain: for (;;) {
    const rows = await repo.entriesAfter(db, expected - 1, BATCH);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expected) {
        note({ seq: expected, kind: 'deleted', message: `entry ${expected} is missing (deleted); the log continues at ${seq}` });
        break chain;
      }
      const hash = entryHash({
        seq,
        at: row.at,
        actorType: row.actor_type,
        actorKeyId: row.actor_key_id,
        action: row.action,
        targetType: row.target_type,
        targetId: row.target_id,
        workspaceId: row.workspace_id,
        requestId: row.request_id,
        details: row.details,
        personalDigest: row.personal_digest,
        prevHash: row.prev_hash,
      });
      if (hash !== row.hash) {
        note({ seq, kind: 'edited', message: `entry ${seq}: hash mismatch (the entry was edited after it was written)` });
        break chain;
      }
      if (row.prev_hash !== prevHash) {
        note({ seq, kind: 'reordered', message: `entry ${seq}: prev_hash does not match entry ${seq - 1} (entries reordered or inserted, or entry ${seq - 1} rewritten)` });
        break chain;
      }
      const personalOk = row.personal_salt === null ? row.pseudonymised_at !== null : personalDigest(row.personal_salt, { actorId: row.actor_id, actorIp: row.actor_ip, subjectId: row.subject_id }) === row.personal_digest;
      if (!personalOk) {
        note({ seq, kind: 'personal_edited', message: `entry ${seq}: actor, IP or subject changed (they no longer match the entry's digest)` });
        break chain;
      }
      const checkpoint = signedAt.get(seq);
      if (checkpoint && checkpoint.hash !== row.hash) {
        note({ seq, kind: 'checkpoint_mismatch', message: `checkpoint at entry ${seq}: signed hash differs from the entry's (entries up to ${seq} were rewritten)` });
        break chain;
      }
      prevHash = row.hash;
      count++;
      expected++;
    }
  }

  const lastSeq = expected - 1;
  const beyond = checkpoints.find((c) => Number(c.seq) > lastSeq);
  if (beyond && !problems.some((p) => p.seq <= lastSeq + 1)) {
    note({ seq: lastSeq + 1, kind: 'truncated', message: `entry ${lastSeq + 1} is missing: a signed checkpoint covers entry ${Number(beyond.seq)} but the log ends at ${lastSeq} (tail truncated)` });
  }
  const broken = problems.sort((a, b) => a.seq - b.seq)[0];
  const base = { entries: count, checkpoints: checkpoints.length, lastSeq };
  return broken ? { ok: false, ...base, broken } : { ok: true, ...base };
}
