/** Table types of agents and the provider connections they call. */
import type { ProviderKind } from '../../../domain/providers.js';

export interface ProviderConnectionsTable {
  id: string;
  workspace_id: string;
  name: string;
  kind: ProviderKind;
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
