/** Table types of workspaces: tenancy, members, invitations, token usage and workspace single sign-on. */
import type { Generated } from 'kysely';
import type { InvitedRole, SsoDefaultRole, WorkspaceRole } from '../../../domain/workspaces.js';

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
  role: InvitedRole;
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

export interface WorkspaceSsoTable {
  workspace_id: string;
  issuer: string;
  client_id: string;
  client_secret: Buffer;
  client_secret_hint: string;
  jit_provisioning: boolean;
  default_role: SsoDefaultRole;
  created_at: Date;
  updated_at: Date;
}
