/** Table types of Bastion's own bookkeeping: migrations, instance settings, data keys and the mail outbox. */
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

export interface MailOutboxTable {
  id: string;
  to_address: string;
  subject: string;
  text_body: Buffer;
  html_body: Buffer;
  created_at: Date;
  sent_at: Date | null;
}
