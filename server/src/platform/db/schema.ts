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

export interface Schema {
  schema_migrations: SchemaMigrationsTable;
  instance_settings: InstanceSettingsTable;
  data_keys: DataKeysTable;
}
