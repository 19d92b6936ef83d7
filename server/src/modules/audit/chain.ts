/**
 * The audit chain's cryptography, with no I/O: the canonical encoding of an entry, its
 * SHA-256 hash, the salted digest of its personal fields, and checkpoint signatures.
 *
 * Canonical encoding: a JSON array of the fields in a fixed order, every value a string
 * or null (so no number or key-order ambiguity), with `details` as JSON with sorted keys.
 * The personal fields (actor id, IP, subject) are not in it: `personal_digest` is, a
 * SHA-256 of a random per-entry salt and those fields. Pseudonymising an entry replaces
 * the fields and drops the salt; the chain still verifies, and without the salt nobody
 * can test a guess of who the entry was about.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The hashed part of an entry (what the chain protects). */
export interface ChainFields {
  seq: number;
  at: Date;
  actorType: 'user' | 'api_key' | 'system';
  actorKeyId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  workspaceId: string | null;
  requestId: string | null;
  details: unknown;
  personalDigest: string;
  prevHash: string;
}

/** The personal part: covered only through the salted digest. */
export interface PersonalFields {
  actorId: string | null;
  actorIp: string | null;
  subjectId: string | null;
}

/** JSON with object keys sorted at every level: one text per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export function newSalt(): string {
  return randomBytes(16).toString('hex');
}

export function personalDigest(salt: string, fields: PersonalFields): string {
  return sha256(JSON.stringify(['bastion-audit-personal-v1', salt, fields.actorId, fields.actorIp, fields.subjectId]));
}

export function entryHash(fields: ChainFields): string {
  return sha256(
    JSON.stringify([
      'bastion-audit-v1',
      String(fields.seq),
      fields.at.toISOString(),
      fields.actorType,
      fields.actorKeyId,
      fields.action,
      fields.targetType,
      fields.targetId,
      fields.workspaceId,
      fields.requestId,
      canonicalJson(fields.details),
      fields.personalDigest,
      fields.prevHash,
    ]),
  );
}

/** What a checkpoint signs: the head of the chain at a point in time, and which key signed. */
export interface CheckpointFields {
  seq: number;
  hash: string;
  at: Date;
  keyId: string;
}

function checkpointMessage(fields: CheckpointFields): string {
  return JSON.stringify(['bastion-audit-checkpoint-v1', String(fields.seq), fields.hash, fields.at.toISOString(), fields.keyId]);
}

export function signCheckpoint(key: Buffer, fields: CheckpointFields): string {
  return createHmac('sha256', key).update(checkpointMessage(fields), 'utf8').digest('base64url');
}

/** Constant-time check of a checkpoint signature. */
export function checkpointSignatureValid(key: Buffer, fields: CheckpointFields, signature: string): boolean {
  const expected = Buffer.from(signCheckpoint(key, fields), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
