/**
 * The export archive (GDPR Art. 15 and 20): a ZIP of JSON files plus the original
 * uploads, decrypted. The rule for shared workspaces: the archive holds what is about
 * the user or was made by them — their profile, sessions, security events, memberships,
 * their own conversations (in any workspace), and agents, knowledge bases and documents
 * they created (in a personal workspace: all of them). Other members, their
 * conversations and what they created are never included, even where the user owns
 * the workspace.
 */
import { strToU8, zipSync, type Zippable } from 'fflate';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import * as repo from './export-repo.js';

const README = `Your Bastion data export
========================

Every file is JSON (UTF-8) except the originals under uploads/.

profile.json          your account (no password hash, no second-factor secret)
sessions.json         browser sessions and sign-in history (time, IP address, device)
security-events.json  security events recorded about your account
api-keys.json         your API keys (names, hints and scopes; never the keys)
workspaces.json       workspaces you belong to, your role, and token usage of those you own
agents.json           agents you created (and every agent of your personal workspace)
conversations.json    your conversations with their messages and read-only links (deleted ones too, until purged a minute later)
knowledge.json        knowledge bases and documents you created, and files you attached to conversations
uploads/              the original files of those documents
consents.json         policy versions you accepted and your consents for optional purposes
exports.json          data exports you requested

Why Bastion keeps this data, who receives it and for how long: see the processing
register and the retention settings of this Bastion instance (docs/processing-register.md).
`;

const iso = (value: Date | null | undefined): string | null => (value ? new Date(value).toISOString() : null);
const json = (value: unknown): Uint8Array => strToU8(`${JSON.stringify(value, null, 2)}\n`);

/** A file name safe inside a ZIP: no directories, no control characters. */
function safeName(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? 'file';
  const cleaned = base
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x1f\x7f]/g, '')
    .replace(/^\.+/, '')
    .slice(0, 120);
  return cleaned || 'file';
}

/** Builds the archive for one user. */
export async function buildExportArchive(db: Db, encryptor: Encryptor, userId: string, now: Date): Promise<Uint8Array> {
  const user = await repo.profile(db, userId);
  if (!user) throw new Error('export: user not found');
  const memberships = await repo.memberships(db, userId);
  const personalIds = memberships.filter((m) => m.personal_owner_id === userId).map((m) => m.id);
  const ownedIds = memberships.filter((m) => m.role === 'owner').map((m) => m.id);
  const usage = await repo.usage(db, ownedIds);

  const agents = await repo.agents(db, userId, personalIds);
  const versions = await repo.agentVersions(
    db,
    userId,
    agents.map((a) => a.id),
    personalIds,
  );

  const conversations = [];
  for (const c of await repo.conversations(db, userId)) {
    const messages = [];
    for (const m of await repo.messages(db, c.id)) {
      const content = JSON.parse(await encryptor.decryptText({ table: 'messages', column: 'content', rowId: m.id }, m.content)) as unknown;
      messages.push({ id: m.id, role: m.role, content, status: m.status, stopReason: m.stop_reason, model: m.model, inputTokens: m.input_tokens, outputTokens: m.output_tokens, superseded: m.superseded, createdAt: iso(m.created_at) });
    }
    const title = c.title ? await encryptor.decryptText({ table: 'conversations', column: 'title', rowId: c.id }, c.title) : null;
    conversations.push({
      id: c.id,
      workspaceId: c.workspace_id,
      agentId: c.agent_id,
      agentVersion: c.agent_version,
      source: c.source,
      title,
      createdAt: iso(c.created_at),
      updatedAt: iso(c.updated_at),
      pinnedAt: iso(c.pinned_at),
      archivedAt: iso(c.archived_at),
      deletedAt: iso(c.deleted_at),
      shares: (await repo.conversationShares(db, c.id)).map((share) => ({ id: share.id, createdAt: iso(share.created_at), revokedAt: iso(share.revoked_at) })),
      messages,
    });
  }

  const files: Zippable = {};
  const documents = [];
  for (const d of await repo.documents(db, userId, personalIds)) {
    let original: string | null = null;
    if (d.data) {
      original = `uploads/${d.id}/${safeName(d.filename)}`;
      files[original] = new Uint8Array(await encryptor.decrypt({ table: 'document_blobs', column: 'data', rowId: d.id }, d.data));
    }
    documents.push({
      id: d.id,
      workspaceId: d.workspace_id,
      knowledgeBaseId: d.knowledge_base_id,
      filename: d.filename,
      source: d.source,
      sourceUrl: d.source_url,
      kind: d.kind,
      sizeBytes: Number(d.size_bytes),
      sha256: d.content_hash,
      status: d.status,
      title: d.title,
      createdAt: iso(d.created_at),
      original,
    });
  }

  files['README.txt'] = strToU8(README);
  files['profile.json'] = json({
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    emailVerifiedAt: iso(user.email_verified_at),
    twoFactorEnabledAt: iso(user.totp_enabled_at),
    passwordChangedAt: iso(user.password_changed_at),
    createdAt: iso(user.created_at),
    updatedAt: iso(user.updated_at),
    erasureScheduledAt: iso(user.erasure_scheduled_at),
    exportedAt: now.toISOString(),
  });
  files['sessions.json'] = json({
    sessions: (await repo.sessions(db, userId)).map((s) => ({
      id: s.id,
      ip: s.ip,
      userAgent: s.user_agent,
      createdAt: iso(s.created_at),
      lastSeenAt: iso(s.last_seen_at),
      expiresAt: iso(s.expires_at),
      revokedAt: iso(s.revoked_at),
      revokedReason: s.revoked_reason,
    })),
    signIns: (await repo.signIns(db, userId)).map((s) => ({ at: iso(s.at), ip: s.ip, network: s.network, score: s.score, reasons: s.reasons })),
  });
  files['security-events.json'] = json((await repo.securityEvents(db, userId)).map((e) => ({ id: e.id, type: e.type, ip: e.ip, details: e.details, createdAt: iso(e.created_at) })));
  files['api-keys.json'] = json({
    apiKeys: (await repo.apiKeys(db, userId)).map((k) => ({
      id: k.id,
      name: k.name,
      hint: k.hint,
      scopes: k.scopes,
      allowedCidrs: k.allowed_cidrs,
      expiresAt: iso(k.expires_at),
      lastUsedAt: iso(k.last_used_at),
      lastUsedIp: k.last_used_ip,
      createdAt: iso(k.created_at),
      revokedAt: iso(k.revoked_at),
    })),
    identities: (await repo.identities(db, userId)).map((i) => ({ issuer: i.issuer, subject: i.subject, email: i.email, createdAt: iso(i.created_at) })),
  });
  files['workspaces.json'] = json(
    memberships.map((m) => ({
      id: m.id,
      name: m.name,
      personal: m.personal_owner_id === userId,
      role: m.role,
      joinedAt: iso(m.joined_at),
      createdAt: iso(m.created_at),
      ...(m.role === 'owner'
        ? {
            monthlyTokenBudget: m.monthly_token_budget === null ? null : Number(m.monthly_token_budget),
            usage: usage.filter((u) => u.workspace_id === m.id).map((u) => ({ period: u.period, inputTokens: Number(u.input_tokens), outputTokens: Number(u.output_tokens) })),
          }
        : {}),
    })),
  );
  files['agents.json'] = json(
    agents.map((a) => ({
      id: a.id,
      workspaceId: a.workspace_id,
      currentVersion: a.current_version,
      createdAt: iso(a.created_at),
      updatedAt: iso(a.updated_at),
      deletedAt: iso(a.deleted_at),
      versions: versions.filter((v) => v.agent_id === a.id).map((v) => ({ version: v.version, config: v.config, createdAt: iso(v.created_at) })),
    })),
  );
  files['conversations.json'] = json(conversations);
  files['knowledge.json'] = json({
    // conversationId: the files attached to that conversation (its documents are listed with the others).
    knowledgeBases: (await repo.knowledgeBases(db, userId, personalIds)).map((b) => ({
      id: b.id,
      workspaceId: b.workspace_id,
      conversationId: b.conversation_id,
      name: b.name,
      description: b.description,
      createdAt: iso(b.created_at),
      updatedAt: iso(b.updated_at),
    })),
    documents,
  });
  files['consents.json'] = json({
    policyAcceptances: (await repo.policyAcceptances(db, userId)).map((p) => ({ kind: p.kind, version: p.version, sha256: p.sha256, acceptedAt: iso(p.accepted_at) })),
    consents: (await repo.consentRecords(db, userId)).map((c) => ({ purpose: c.purpose, granted: c.granted, policyVersion: c.policy_version, recordedAt: iso(c.recorded_at) })),
  });
  files['exports.json'] = json((await repo.listExports(db, userId)).map((e) => ({ id: e.id, status: e.status, createdAt: iso(e.created_at), completedAt: iso(e.completed_at), downloadedAt: iso(e.downloaded_at) })));
  return zipSync(files, { level: 6, mtime: now });
}
