/**
 * Table types for Kysely: the `Schema` of the whole database, assembled from one file per
 * domain (accounts.ts, workspaces.ts, chat.ts, …). Each migration that adds a table adds
 * its interface to its domain's file and a line here.
 *
 * Layout: the table files describe rows only. Enumerations with a meaning of their own
 * (user and workspace roles, message, document and export statuses, token and policy
 * kinds) live in `src/domain/`, below every layer: these files and the modules import
 * them from there, so `platform/` keeps importing neither `http/` nor a module, and a
 * module's rules never need to reach into `platform/db` for a domain word.
 */
import type { SchemaMigrationsTable, InstanceSettingsTable, DataKeysTable, MailOutboxTable } from './platform.js';
import type { UsersTable, SessionsTable, AuthTokensTable, RecoveryCodesTable, SignInsTable, UserIdentitiesTable } from './accounts.js';
import type { ApiKeysTable, JwtKeysTable, RefreshTokensTable, SigningSecretsTable } from './api-access.js';
import type { SecurityEventsTable, SecurityAlertsTable, CspReportsTable } from './security.js';
import type { WorkspacesTable, WorkspaceMembersTable, WorkspaceInvitationsTable, WorkspaceUsageTable, WorkspaceSsoTable } from './workspaces.js';
import type { ProviderConnectionsTable, AgentsTable, AgentVersionsTable } from './agents.js';
import type { ConversationsTable, ConversationSearchTotalsTable, ConversationSharesTable, MessagesTable } from './chat.js';
import type { KnowledgeBasesTable, ChunkEmbeddingsTable, DocumentsTable, DocumentBlobsTable, ChunksTable, KnowledgeTermStatsTable } from './knowledge.js';
import type { DataExportsTable, PolicyVersionsTable, PolicyAcceptancesTable, ConsentRecordsTable } from './privacy.js';
import type { AuditEntriesTable, AuditCheckpointsTable, AuditKeysTable } from './audit.js';

export type * from './platform.js';
export type * from './accounts.js';
export type * from './api-access.js';
export type * from './security.js';
export type * from './workspaces.js';
export type * from './agents.js';
export type * from './chat.js';
export type * from './knowledge.js';
export type * from './privacy.js';
export type * from './audit.js';

export interface Schema {
  schema_migrations: SchemaMigrationsTable;
  instance_settings: InstanceSettingsTable;
  data_keys: DataKeysTable;
  users: UsersTable;
  sessions: SessionsTable;
  auth_tokens: AuthTokensTable;
  recovery_codes: RecoveryCodesTable;
  sign_ins: SignInsTable;
  mail_outbox: MailOutboxTable;
  security_events: SecurityEventsTable;
  security_alerts: SecurityAlertsTable;
  csp_reports: CspReportsTable;
  api_keys: ApiKeysTable;
  jwt_keys: JwtKeysTable;
  refresh_tokens: RefreshTokensTable;
  user_identities: UserIdentitiesTable;
  signing_secrets: SigningSecretsTable;
  workspaces: WorkspacesTable;
  workspace_members: WorkspaceMembersTable;
  workspace_invitations: WorkspaceInvitationsTable;
  workspace_usage: WorkspaceUsageTable;
  provider_connections: ProviderConnectionsTable;
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  conversation_shares: ConversationSharesTable;
  conversation_search_totals: ConversationSearchTotalsTable;
  workspace_sso: WorkspaceSsoTable;
  knowledge_bases: KnowledgeBasesTable;
  chunk_embeddings: ChunkEmbeddingsTable;
  documents: DocumentsTable;
  document_blobs: DocumentBlobsTable;
  chunks: ChunksTable;
  knowledge_term_stats: KnowledgeTermStatsTable;
  data_exports: DataExportsTable;
  policy_versions: PolicyVersionsTable;
  policy_acceptances: PolicyAcceptancesTable;
  consent_records: ConsentRecordsTable;
  audit_entries: AuditEntriesTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_keys: AuditKeysTable;
}
