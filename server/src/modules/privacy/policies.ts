/**
 * Privacy policy and terms (versioned, each identified by the SHA-256 of its text), their
 * acceptance, and consents for optional purposes (GDPR Art. 7: provable — time, version —
 * and withdrawn as easily as given).
 */
import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import { CONSENT_PURPOSES, POLICY_KINDS, type ConsentPurpose, type PolicyKind } from '../../domain/privacy.js';

export { CONSENT_PURPOSES, POLICY_KINDS };

export interface PolicyVersion {
  kind: PolicyKind;
  version: number;
  sha256: string;
  text: string;
  publishedAt: Date;
}

export interface ConsentState {
  purpose: ConsentPurpose;
  granted: boolean;
  policyVersion: number | null;
  recordedAt: Date | null;
}

const CURRENT_TTL_MS = 30_000;

export class PolicyService {
  private current: { at: number; versions: PolicyVersion[] } | null = null;
  /** `${userId}:${kind}:${version}` seen accepted; an acceptance is never withdrawn, so this never goes stale. */
  private readonly accepted = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Publishes a new version unless the text is the current one; returns the version in force. */
  async publish(kind: PolicyKind, text: string): Promise<PolicyVersion> {
    const sha256 = createHash('sha256').update(text, 'utf8').digest('hex');
    const published = await this.db.transaction().execute(async (trx) => {
      // One publisher at a time per kind: versions stay consecutive.
      await sql`select pg_advisory_xact_lock(hashtext(${`bastion-policy-${kind}`}))`.execute(trx);
      const latest = await trx.selectFrom('policy_versions').selectAll().where('kind', '=', kind).orderBy('version', 'desc').limit(1).executeTakeFirst();
      if (latest?.sha256 === sha256) return latest;
      const existing = await trx.selectFrom('policy_versions').select('version').where('kind', '=', kind).where('sha256', '=', sha256).executeTakeFirst();
      if (existing) throw new AppError('conflict', `This text was already published as version ${existing.version}; publish a changed text.`);
      const row = { kind, version: (latest?.version ?? 0) + 1, sha256, text, published_at: this.clock.now() };
      await trx.insertInto('policy_versions').values(row).execute();
      return row;
    });
    this.current = null;
    return { kind: published.kind, version: published.version, sha256: published.sha256, text: published.text, publishedAt: published.published_at };
  }

  /** The versions in force (one per kind that has any), cached for CURRENT_TTL_MS. */
  async currentVersions(): Promise<PolicyVersion[]> {
    const now = this.clock.now().getTime();
    if (this.current && Math.abs(now - this.current.at) < CURRENT_TTL_MS) return this.current.versions;
    const rows = await this.db
      .selectFrom('policy_versions as p')
      .selectAll()
      .where('p.version', '=', (eb) =>
        eb
          .selectFrom('policy_versions as q')
          .select((q) => q.fn.max('q.version').as('v'))
          .whereRef('q.kind', '=', 'p.kind'),
      )
      .execute();
    const versions = rows.map((r) => ({ kind: r.kind, version: r.version, sha256: r.sha256, text: r.text, publishedAt: r.published_at })).sort((a, b) => a.kind.localeCompare(b.kind));
    this.current = { at: now, versions };
    return versions;
  }

  /** Current versions the user has not accepted. */
  async pending(userId: string): Promise<PolicyVersion[]> {
    const current = await this.currentVersions();
    const unknown = current.filter((p) => !this.accepted.has(`${userId}:${p.kind}:${p.version}`));
    if (unknown.length === 0) return [];
    const rows = await this.db
      .selectFrom('policy_acceptances')
      .select(['kind', 'version'])
      .where('user_id', '=', userId)
      .where((eb) => eb.or(unknown.map((p) => eb.and([eb('kind', '=', p.kind), eb('version', '=', p.version)]))))
      .execute();
    for (const r of rows) this.accepted.add(`${userId}:${r.kind}:${r.version}`);
    return unknown.filter((p) => !rows.some((r) => r.kind === p.kind && r.version === p.version));
  }

  /**
   * Records acceptance of the named versions; each must be the one in force (accepting
   * an old text proves nothing about the current one).
   */
  async accept(userId: string, accepted: { kind: PolicyKind; version: number }[]): Promise<void> {
    const current = await this.currentVersionsFresh();
    const rows = accepted.map((a) => {
      const match = current.find((p) => p.kind === a.kind && p.version === a.version);
      if (!match) throw new AppError('conflict', `Version ${a.version} of the ${a.kind} document is not the one in force; reload it (GET /api/v1/privacy/policies) and accept that one.`);
      return { user_id: userId, kind: match.kind, version: match.version, sha256: match.sha256, accepted_at: this.clock.now() };
    });
    if (rows.length === 0) return;
    await this.db
      .insertInto('policy_acceptances')
      .values(rows)
      .onConflict((oc) => oc.columns(['user_id', 'kind', 'version']).doNothing())
      .execute();
  }

  /** The versions in force, read now (publishing elsewhere must not be missed when accepting). */
  private async currentVersionsFresh(): Promise<PolicyVersion[]> {
    this.current = null;
    return this.currentVersions();
  }

  async consents(userId: string): Promise<ConsentState[]> {
    const rows = await this.db.selectFrom('consent_records').select(['purpose', 'granted', 'policy_version', 'recorded_at']).where('user_id', '=', userId).orderBy('recorded_at', 'desc').orderBy('id').execute();
    return CONSENT_PURPOSES.map((purpose) => {
      const latest = rows.find((r) => r.purpose === purpose);
      return latest ? { purpose, granted: latest.granted, policyVersion: latest.policy_version, recordedAt: latest.recorded_at } : { purpose, granted: false, policyVersion: null, recordedAt: null };
    });
  }

  /** Records a grant or withdrawal for each purpose whose state changes; every change is kept. */
  async setConsents(userId: string, wanted: Partial<Record<ConsentPurpose, boolean>>): Promise<ConsentState[]> {
    const current = await this.consents(userId);
    const privacy = (await this.currentVersions()).find((p) => p.kind === 'privacy');
    const now = this.clock.now();
    const changes = current.filter((c) => wanted[c.purpose] !== undefined && wanted[c.purpose] !== c.granted);
    if (changes.length > 0) {
      await this.db
        .insertInto('consent_records')
        .values(changes.map((c) => ({ id: randomUUID(), user_id: userId, purpose: c.purpose, granted: wanted[c.purpose]!, policy_version: privacy?.version ?? null, recorded_at: now })))
        .execute();
    }
    return this.consents(userId);
  }
}
