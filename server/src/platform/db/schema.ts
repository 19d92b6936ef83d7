/** Table types for Kysely. Each migration that adds a table adds its interface here. */
import type { Generated } from 'kysely';

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: Generated<Date>;
}

export interface InstanceSettingsTable {
  key: string;
  value: unknown;
  updated_at: Generated<Date>;
}

export interface DataKeysTable {
  id: string;
  scope: 'instance' | 'workspace' | 'user';
  owner_id: Generated<string>;
  master_key_id: string;
  wrapped_key: Buffer;
  created_at: Generated<Date>;
  rewrapped_at: Date | null;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'member';
  password_hash: string;
  password_changed_at: Generated<Date>;
  email_verified_at: Date | null;
  totp_secret: Buffer | null;
  totp_enabled_at: Date | null;
  totp_last_step: string | null; // bigint comes back as a string
  password_reset_required: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  erasure_requested_at: Generated<Date | null>;
  erasure_scheduled_at: Generated<Date | null>;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  ip: string;
  user_agent: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

export type AuthTokenKind = 'verify_email' | 'password_reset' | 'mfa_login' | 'not_me' | 'invite' | 'oidc_link';

export interface AuthTokensTable {
  id: string;
  user_id: string | null;
  kind: AuthTokenKind;
  token_hash: string;
  email: string | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  payload: unknown | null;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  used_at: Date | null;
}

export interface SignInsTable {
  id: string;
  user_id: string;
  at: Date;
  ip: string;
  network: string;
  device: string;
  hour: number;
  score: number;
  reasons: string[];
}

export interface MailOutboxTable {
  id: string;
  to_address: string;
  subject: string;
  text_body: Buffer;
  html_body: Buffer;
  created_at: Date;
  sent_at: Date | null;
}

export interface SecurityEventsTable {
  id: string;
  type: string;
  user_id: string | null;
  ip: string | null;
  details: Generated<unknown>;
  created_at: Date;
  severity: Generated<string>;
  actor_key_id: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export interface SecurityAlertsTable {
  id: string;
  rule: string;
  key: string;
  severity: string;
  first_seen_at: Date;
  last_seen_at: Date;
  count: number;
  details: Generated<unknown>;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
}

export interface CspReportsTable {
  id: string;
  document_uri: string;
  blocked_uri: string;
  directive: string;
  source_file: string;
  line: number | null;
  disposition: string;
  user_agent: string;
  ip: string;
  created_at: Date;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  key_hash: string;
  hint: string;
  scopes: string[];
  allowed_cidrs: Generated<string[]>;
  expires_at: Date | null;
  last_used_at: Date | null;
  last_used_ip: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

export interface JwtKeysTable {
  kid: string;
  private_key: Buffer;
  public_jwk: unknown;
  created_at: Date;
  retired_at: Date | null;
}

export interface RefreshTokensTable {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: string;
  scopes: string[];
  session_id: string | null;
  api_key_id: string | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

export interface UserIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: Date;
}

export interface SigningSecretsTable {
  id: string;
  owner_type: string;
  owner_id: string;
  secret: Buffer;
  hint: string;
  created_at: Date;
  expires_at: Date | null;
}

export type WorkspaceRole = 'owner' | 'admin' | 'member' | 'viewer';

export interface WorkspacesTable {
  id: string;
  name: string;
  personal_owner_id: string | null;
  monthly_token_budget: string | null; // bigint comes back as a string
  created_at: Date;
  updated_at: Date;
}

export interface WorkspaceMembersTable {
  workspace_id: string;
  user_id: string;
  role: WorkspaceRole;
  created_at: Date;
}

export interface WorkspaceInvitationsTable {
  id: string;
  workspace_id: string;
  email: string;
  role: Exclude<WorkspaceRole, 'owner'>;
  token_hash: string;
  invited_by: string | null;
  created_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
  revoked_at: Date | null;
}

export interface WorkspaceUsageTable {
  workspace_id: string;
  period: string; // date as YYYY-MM-DD
  input_tokens: Generated<string>;
  output_tokens: Generated<string>;
}

export interface ProviderConnectionsTable {
  id: string;
  workspace_id: string;
  name: string;
  kind: 'openai' | 'anthropic';
  base_url: string;
  default_model: string | null;
  credentials: Buffer | null;
  credential_hint: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface AgentsTable {
  id: string;
  workspace_id: string;
  current_version: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface AgentVersionsTable {
  agent_id: string;
  version: number;
  config: unknown;
  created_by: string | null;
  created_at: Date;
}

export interface ConversationsTable {
  id: string;
  workspace_id: string;
  user_id: string;
  agent_id: string;
  agent_version: number;
  source: 'chat' | 'run' | 'webhook';
  title: Buffer | null;
  created_at: Date;
  updated_at: Date;
}

export type MessageStatus = 'complete' | 'streaming' | 'incomplete' | 'failed';

export interface MessagesTable {
  id: string;
  seq: Generated<string>;
  conversation_id: string;
  workspace_id: string;
  role: 'user' | 'assistant';
  content: Buffer;
  status: MessageStatus;
  stop_reason: string | null;
  agent_version: number | null;
  model: string | null;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  superseded: Generated<boolean>;
  created_at: Date;
  updated_at: Date;
}

export interface WorkspaceSsoTable {
  workspace_id: string;
  issuer: string;
  client_id: string;
  client_secret: Buffer;
  client_secret_hint: string;
  jit_provisioning: boolean;
  default_role: 'member' | 'viewer';
  created_at: Date;
  updated_at: Date;
}

export interface KnowledgeBasesTable {
  id: string;
  workspace_id: string;
  name: string;
  description: Generated<string>;
  version: Generated<string>; // bigint comes back as a string
  embedding_connection_id: Generated<string | null>;
  embedding_model: Generated<string | null>;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Exists only where pgvector is available (migration 0013); `embedding` is pgvector's text form. */
export interface ChunkEmbeddingsTable {
  chunk_id: string;
  knowledge_base_id: string;
  workspace_id: string;
  model: string;
  embedding: string;
}

export type DocumentStatus = 'pending' | 'scanning' | 'processing' | 'ready' | 'failed' | 'quarantined';

export interface DocumentsTable {
  id: string;
  knowledge_base_id: string;
  workspace_id: string;
  filename: string;
  source: 'upload' | 'url';
  source_url: string | null;
  declared_type: string | null;
  kind: 'txt' | 'md' | 'html' | 'pdf' | 'docx' | 'csv' | 'json';
  size_bytes: string; // bigint
  content_hash: string;
  status: DocumentStatus;
  error_code: string | null;
  error_message: string | null;
  attempts: Generated<number>;
  title: string | null;
  chunk_count: Generated<number>;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface DocumentBlobsTable {
  document_id: string;
  data: Buffer;
}

export interface ChunksTable {
  id: string;
  document_id: string;
  knowledge_base_id: string;
  workspace_id: string;
  position: number;
  heading: string | null;
  text: string;
  start_char: number;
  end_char: number;
}

export type ExportStatus = 'pending' | 'ready' | 'downloaded' | 'expired' | 'failed';

export interface DataExportsTable {
  id: string;
  user_id: string;
  status: ExportStatus;
  token_hash: string | null;
  archive: Buffer | null;
  size_bytes: string | null; // bigint comes back as a string
  created_at: Date;
  completed_at: Date | null;
  expires_at: Date | null;
  downloaded_at: Date | null;
}

export type PolicyKind = 'privacy' | 'terms';

export interface PolicyVersionsTable {
  kind: PolicyKind;
  version: number;
  sha256: string;
  text: string;
  published_at: Date;
}

export interface PolicyAcceptancesTable {
  user_id: string;
  kind: PolicyKind;
  version: number;
  sha256: string;
  accepted_at: Date;
}

export type ConsentPurpose = 'product_analytics' | 'improve_prompts';

export interface ConsentRecordsTable {
  id: string;
  user_id: string;
  purpose: ConsentPurpose;
  granted: boolean;
  policy_version: number | null;
  recorded_at: Date;
}

export interface AuditEntriesTable {
  seq: string; // bigint comes back as a string
  at: Date;
  actor_type: 'user' | 'api_key' | 'system';
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
  workspace_sso: WorkspaceSsoTable;
  knowledge_bases: KnowledgeBasesTable;
  chunk_embeddings: ChunkEmbeddingsTable;
  documents: DocumentsTable;
  document_blobs: DocumentBlobsTable;
  chunks: ChunksTable;
  data_exports: DataExportsTable;
  policy_versions: PolicyVersionsTable;
  policy_acceptances: PolicyAcceptancesTable;
  consent_records: ConsentRecordsTable;
  audit_entries: AuditEntriesTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_keys: AuditKeysTable;
}
